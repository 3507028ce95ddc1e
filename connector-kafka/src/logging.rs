//! What librdkafka says, at the level it deserves. Its default context logs every
//! failed connection attempt at ERROR (236 lines for an unreachable broker before the
//! job's own error), the end of a partition and "all brokers down" during a normal
//! recovery too. The connector reports real failures itself (its errors, the source's
//! outage warning), so librdkafka's own lines are at most warnings, and the transient
//! conditions the connector rides through are debug lines.

use std::sync::{Arc, Mutex};

use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::ConsumerContext;
use rdkafka::error::KafkaError as RdKafkaError;

use crate::error::transient;

/// The context of every client the connector creates (but the source reader's,
/// which also tracks outages and logs the same way). It keeps librdkafka's last
/// error report, which says why a connection failed (a TLS handshake, say) where the
/// call's own error only says "transport failure".
#[derive(Debug, Default, Clone)]
pub(crate) struct Logged {
    last_report: Arc<Mutex<Option<String>>>,
}

impl Logged {
    /// librdkafka's last error report, if any.
    pub(crate) fn last_report(&self) -> Option<String> {
        self.last_report.lock().ok().and_then(|r| r.clone())
    }
}

impl Logged {
    fn remember(&self, report: &str) {
        if let Ok(mut last) = self.last_report.lock() {
            *last = Some(report.to_string());
        }
    }
}

impl ClientContext for Logged {
    /// librdkafka logs from its own threads; its `FAIL` lines say why a connection
    /// to a broker failed.
    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        if facility == "FAIL" {
            self.remember(message);
        }
        log_line(level, facility, message);
    }

    fn error(&self, error: RdKafkaError, reason: &str) {
        if !matches!(error, RdKafkaError::PartitionEOF(_)) {
            self.remember(reason);
        }
        log_error(&error, reason);
    }
}

impl ConsumerContext for Logged {}

/// One librdkafka log line: critical ones as errors, errors and warnings as
/// warnings, notices as info, the rest as debug.
pub(crate) fn log_line(level: RDKafkaLogLevel, facility: &str, message: &str) {
    match level {
        RDKafkaLogLevel::Emerg | RDKafkaLogLevel::Alert | RDKafkaLogLevel::Critical => {
            tracing::error!(target: "librdkafka", facility, "{message}");
        }
        RDKafkaLogLevel::Error | RDKafkaLogLevel::Warning => {
            tracing::warn!(target: "librdkafka", facility, "{message}")
        }
        RDKafkaLogLevel::Notice => tracing::info!(target: "librdkafka", facility, "{message}"),
        RDKafkaLogLevel::Info | RDKafkaLogLevel::Debug => tracing::debug!(target: "librdkafka", facility, "{message}"),
    }
}

/// A client-wide error librdkafka reports (it retries by itself): the end of a
/// partition is no error at all, a transient one (all brokers down, a transport
/// failure) is debug, anything else a warning; what fails the job is the
/// connector's own error.
pub(crate) fn log_error(error: &RdKafkaError, reason: &str) {
    if matches!(error, RdKafkaError::PartitionEOF(_)) {
        tracing::trace!(target: "librdkafka", reason, "partition end");
    } else if transient(error) {
        tracing::debug!(target: "librdkafka", %error, reason, "librdkafka retries");
    } else {
        tracing::warn!(target: "librdkafka", %error, reason, "librdkafka error");
    }
}

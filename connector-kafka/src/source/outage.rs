//! Broker outages the source rides through. librdkafka reconnects by itself, so a
//! transient error (all brokers down, a transport failure, a timeout), whether the
//! poll returns it or librdkafka reports it through the client's error callback,
//! starts a clock instead of failing the task. A record, the end of a partition, or a
//! metadata request that succeeds ends the outage; one longer than
//! `reconnect_timeout` fails the task, naming it. The same client context turns
//! librdkafka's statistics into the pending-records metric.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{Consumer, ConsumerContext, StreamConsumer};
use rdkafka::error::KafkaError as RdKafkaError;
use rdkafka::statistics::Statistics;
use stream_core::metrics::SourceMetrics;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::client::DropInBackground;
use crate::error::{KafkaError, transient};
use crate::logging::{log_error, log_line};

/// How long one health probe (a metadata request) may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// The reader's consumer.
pub(crate) type ReaderConsumer = StreamConsumer<OutageContext>;

/// When the current outage began and its last error; shared with the client's
/// error callback.
pub(crate) struct OutageContext {
    since: Mutex<Option<(Instant, String)>>,
    /// Whether `since` is set: the per-record check takes no lock.
    active: AtomicBool,
    /// Where the pending-records metric from librdkafka's statistics goes.
    metrics: SourceMetrics,
    /// The end a `read_committed` consumer reads to is the last stable offset.
    read_committed: bool,
}

impl OutageContext {
    pub(crate) fn new(metrics: SourceMetrics, read_committed: bool) -> Self {
        OutageContext { since: Mutex::default(), active: AtomicBool::default(), metrics, read_committed }
    }

    fn record(&self, error: &RdKafkaError) {
        let Ok(mut since) = self.since.lock() else { return };
        match &mut *since {
            Some((_, last)) => *last = error.to_string(),
            None => {
                tracing::warn!(%error, "kafka brokers unreachable; waiting for librdkafka to reconnect");
                *since = Some((Instant::now(), error.to_string()));
                self.active.store(true, Ordering::Release);
            }
        }
    }

    fn clear(&self) {
        if !self.active.swap(false, Ordering::AcqRel) {
            return;
        }
        if let Ok(mut since) = self.since.lock()
            && let Some((began, _)) = since.take()
        {
            tracing::info!(after = ?began.elapsed(), "kafka brokers reachable again");
        }
    }

    fn current(&self) -> Option<(Instant, String)> {
        if !self.active.load(Ordering::Acquire) {
            return None;
        }
        self.since.lock().ok().and_then(|s| s.clone())
    }
}

impl ClientContext for OutageContext {
    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        log_line(level, facility, message);
    }

    fn error(&self, error: RdKafkaError, reason: &str) {
        if transient(&error) {
            self.record(&error);
        }
        log_error(&error, reason);
    }

    fn stats(&self, statistics: Statistics) {
        self.metrics.pending_records(pending_records(&statistics, self.read_committed));
    }
}

/// Records between the next one the job gets and the end of each partition being
/// fetched (the last stable offset for `read_committed`, else the high watermark):
/// Kafka's consumer lag, from the reader's own position, as the job commits no
/// offsets it could be measured from.
fn pending_records(statistics: &Statistics, read_committed: bool) -> u64 {
    let fetched = statistics.topics.values().flat_map(|t| t.partitions.values());
    fetched
        .filter(|p| p.partition >= 0 && p.fetch_state != "none")
        .map(|p| {
            let end = if read_committed { p.ls_offset } else { p.hi_offset };
            let position = if p.app_offset >= 0 { p.app_offset } else { p.next_offset };
            if end >= 0 && position >= 0 { end.saturating_sub(position).max(0) as u64 } else { 0 }
        })
        .sum()
}

impl ConsumerContext for OutageContext {}

/// The reader's view of outages: the clock, and a metadata probe in flight.
pub(crate) struct Outage {
    timeout: Duration,
    probe: Option<JoinHandle<bool>>,
}

impl Outage {
    pub(crate) fn new(timeout: Duration) -> Self {
        Outage { timeout, probe: None }
    }

    /// A transient error from the poll: the outage begins (or goes on).
    pub(crate) fn on_error(&mut self, consumer: &ReaderConsumer, error: &RdKafkaError) {
        consumer.context().record(error);
    }

    /// The consumer got something from a broker: no outage.
    pub(crate) fn on_progress(&mut self, consumer: &ReaderConsumer) {
        consumer.context().clear();
        if let Some(probe) = self.probe.take() {
            probe.abort();
        }
    }

    /// In an outage: fail once it lasted `reconnect_timeout`; otherwise ask a broker
    /// for metadata (in the background) to learn whether it is over, since an idle
    /// partition gives no record to tell.
    pub(crate) fn check(&mut self, consumer: &Arc<ReaderConsumer>) -> stream_core::Result<()> {
        let Some((since, last)) = consumer.context().current() else { return Ok(()) };
        if since.elapsed() >= self.timeout {
            return Err(KafkaError::Unreachable { timeout: self.timeout, last }.into());
        }
        match self.probe.take() {
            Some(probe) if probe.is_finished() => {
                let reachable = futures::FutureExt::now_or_never(probe).and_then(Result::ok).unwrap_or(false);
                if reachable {
                    self.on_progress(consumer);
                }
            }
            Some(probe) => self.probe = Some(probe),
            None => {
                // Not destroyed on the blocking pool if it outlives the reader: that
                // would hold the runtime's shutdown for as long as librdkafka's destroy.
                let consumer = DropInBackground::new(consumer.clone());
                self.probe = Some(tokio::task::spawn_blocking(move || {
                    consumer.fetch_metadata(None, PROBE_TIMEOUT).is_ok_and(|m| !m.brokers().is_empty())
                }));
            }
        }
        Ok(())
    }
}

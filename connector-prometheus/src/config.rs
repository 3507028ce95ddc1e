//! The sink's builder and the validation of its options.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use connector_base::DeliveryGuarantee;
use connector_base::async_sink::{AsyncSink, AsyncSinkOptions, ServiceLimits};
use stream_core::{Result, StreamError};

use crate::error::PrometheusError;
use crate::model::TimeSeries;

/// Remote write has no fixed limits; these bound what one request holds (series per
/// request, bytes before compression, bytes per series). Amazon Managed Prometheus
/// takes 1 MiB per request: lower `max_batch_size_in_bytes` there.
const REMOTE_WRITE: ServiceLimits = ServiceLimits {
    api: "remote write",
    max_batch_size: 10_000,
    max_batch_size_in_bytes: 16 * 1024 * 1024,
    max_record_size_in_bytes: 1024 * 1024,
};

/// Series per request by default (Flink's sink sends up to 500 samples a request;
/// ours counts series, each with its samples).
const DEFAULT_BATCH: usize = 500;

/// How long the check at start waits for an endpoint that does not answer yet.
const DEFAULT_STARTUP_TIMEOUT: Duration = Duration::from_secs(30);

/// Writes time series to a Prometheus remote-write endpoint (connector-base's
/// batching, retrying [`AsyncSink`], one request in flight so that the samples of a
/// series arrive in time order). Build with [`PrometheusSinkBuilder::new`].
pub type PrometheusSink<T> = AsyncSink<T, RemoteWrite<T>>;

/// What to do with samples Prometheus refuses as older than what it has of their
/// series ("out of order", "duplicate sample for timestamp", "out of bounds"). After
/// a restore the samples written since the checkpoint come again and are refused this
/// way: they are already there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RejectedSamples {
    /// Count them (`prometheus_sink_samples_rejected_total`), log the first of each
    /// request, and go on (default).
    #[default]
    DropAndCount,
    /// Fail the job naming the series and the reason (a replay after a restore then
    /// fails too: only for streams that are never replayed).
    Fail,
}

/// Signs or authenticates each request before it is sent (a bearer token, AWS SigV4
/// for Amazon Managed Prometheus, ...). `Err` fails the request (it is sent again).
pub trait RequestSigner: Send + Sync + 'static {
    /// Add what the endpoint needs to `request` (headers).
    fn sign<'a>(
        &'a self,
        request: &'a mut reqwest::Request,
    ) -> Pin<Box<dyn Future<Output = std::result::Result<(), String>> + Send + 'a>>;
}

/// Turns a record into a time series.
pub(crate) type Convert<T> = Arc<dyn Fn(T) -> std::result::Result<TimeSeries, PrometheusError> + Send + Sync>;

/// The endpoint a [`PrometheusSink`] writes to and how records become series.
pub struct RemoteWrite<T> {
    pub(crate) url: String,
    pub(crate) convert: Convert<T>,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) signer: Option<Arc<dyn RequestSigner>>,
    pub(crate) rejected: RejectedSamples,
    pub(crate) startup_timeout: Duration,
}

impl<T> std::fmt::Debug for RemoteWrite<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Header values and the signer may hold credentials: names only.
        let headers: Vec<&str> = self.headers.iter().map(|(name, _)| name.as_str()).collect();
        f.debug_struct("PrometheusSink")
            .field("url", &connector_base::redact_url(&self.url))
            .field("headers", &headers)
            .field("signer", &self.signer.is_some())
            .field("rejected", &self.rejected)
            .field("startup_timeout", &self.startup_timeout)
            .finish_non_exhaustive()
    }
}

/// Builder of [`PrometheusSink`].
pub struct PrometheusSinkBuilder<T> {
    write: RemoteWrite<T>,
    options: AsyncSinkOptions,
}

impl<T: Send + 'static> PrometheusSinkBuilder<T> {
    /// Write to `url` (`http://prometheus:9090/api/v1/write`), each record turned into
    /// a series by `convert` ([`TimeSeries::builder`]; its error fails the job, naming
    /// the series). Key the stream by series before the sink when it runs with more
    /// than one subtask: each series must be written by one subtask, in time order.
    pub fn new(
        url: impl Into<String>,
        convert: impl Fn(T) -> std::result::Result<TimeSeries, PrometheusError> + Send + Sync + 'static,
    ) -> Self {
        let mut options = AsyncSinkOptions::new(REMOTE_WRITE);
        options.max_batch_size = DEFAULT_BATCH;
        PrometheusSinkBuilder {
            write: RemoteWrite {
                url: url.into(),
                convert: Arc::new(convert),
                headers: Vec::new(),
                signer: None,
                rejected: RejectedSamples::default(),
                startup_timeout: DEFAULT_STARTUP_TIMEOUT,
            },
            options,
        }
    }

    /// Send this header with every request (`Authorization`, a tenant id such as
    /// `X-Scope-OrgID`); its value never shows in `Debug` or logs.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.write.headers.push((name.into(), value.into()));
        self
    }

    /// Sign every request with `signer` (after the headers are set).
    pub fn signer(mut self, signer: impl RequestSigner) -> Self {
        self.write.signer = Some(Arc::new(signer));
        self
    }

    /// What to do with samples refused as older than their series (default: drop
    /// and count).
    pub fn rejected_samples(mut self, policy: RejectedSamples) -> Self {
        self.write.rejected = policy;
        self
    }

    /// How long the check at start (an empty write) waits for an endpoint that does
    /// not answer or answers 429/5xx, such as a server restarting (default 30 s);
    /// then the writer fails naming the endpoint. A refusal (401, 403, 404) fails at
    /// once.
    pub fn startup_timeout(mut self, timeout: Duration) -> Self {
        self.write.startup_timeout = timeout;
        self
    }

    connector_base::async_sink_options!(options, "always 1: the samples of a series must arrive in order");

    /// Validate and build; the error names the bad option and value.
    pub fn build(self) -> Result<PrometheusSink<T>> {
        let url = reqwest::Url::parse(&self.write.url).map_err(|e| {
            StreamError::invalid("url", connector_base::redact_url(&self.write.url), format!("not a URL: {e}"))
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(StreamError::invalid("url", url.scheme(), "http or https"));
        }
        for (name, value) in &self.write.headers {
            let valid = reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_ok()
                && reqwest::header::HeaderValue::from_str(value).is_ok();
            if !valid {
                return Err(StreamError::invalid("header", name, "a valid HTTP header name and value"));
            }
        }
        if self.write.startup_timeout.is_zero() {
            return Err(StreamError::invalid("startup_timeout", "0s", "a positive duration"));
        }
        // One request in flight keeps each series in time order (what Prometheus
        // requires); exactly-once in the async sink's terms means exactly that.
        let async_config = self.options.build(DeliveryGuarantee::ExactlyOnce, 1)?;
        Ok(AsyncSink::new(self.write, async_config))
    }
}

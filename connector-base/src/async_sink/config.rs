//! Options of [`super::AsyncSinkWriter`], with Flink's names and meaning.

use std::time::Duration;

use stream_core::retry::RetryPolicy;
use stream_core::{Result, StreamError};

use crate::DeliveryGuarantee;

/// The waits before failed entries are sent again, unless set: 50 ms doubling to 5 s.
pub(crate) fn default_retry() -> RetryPolicy {
    RetryPolicy::exponential(Duration::from_millis(50), Duration::from_secs(5))
}

/// Validated options; build with [`AsyncSinkConfig::builder`].
#[derive(Debug, Clone, PartialEq)]
pub struct AsyncSinkConfig {
    pub(crate) max_batch_size: usize,
    pub(crate) max_in_flight_requests: usize,
    pub(crate) max_buffered_requests: usize,
    pub(crate) max_batch_size_in_bytes: usize,
    pub(crate) max_time_in_buffer: Duration,
    pub(crate) max_record_size_in_bytes: usize,
    pub(crate) request_timeout: Duration,
    pub(crate) fail_on_timeout: bool,
    /// The longest one request may take before it is abandoned and its entries are
    /// sent again (`None`: only `request_timeout` bounds it).
    pub(crate) call_timeout: Option<Duration>,
    pub(crate) retry: RetryPolicy,
}

impl AsyncSinkConfig {
    /// Requests in flight for a sink of `guarantee` whose user asked for `requested`
    /// (or `default` when they did not). An exactly-once sink of idempotent writes
    /// needs one request in flight, or a retried request could overwrite a newer
    /// value: it gets 1, and another explicit value is refused naming
    /// `max_in_flight_requests`.
    pub fn in_flight_for(guarantee: DeliveryGuarantee, requested: Option<usize>, default: usize) -> Result<usize> {
        match (guarantee, requested) {
            (DeliveryGuarantee::ExactlyOnce, Some(n)) if n != 1 => Err(StreamError::invalid(
                "max_in_flight_requests",
                n,
                "exactly-once needs 1: with more, a retried request could overwrite newer values",
            )),
            (DeliveryGuarantee::ExactlyOnce, _) => Ok(1),
            (_, requested) => Ok(requested.unwrap_or(default)),
        }
    }

    /// Start from Flink's defaults (500 / 50 / 10 000 / 5 MiB / 5 s / 1 MiB, 10 min
    /// timeout with retry).
    pub fn builder() -> AsyncSinkConfigBuilder {
        AsyncSinkConfigBuilder {
            config: AsyncSinkConfig {
                max_batch_size: 500,
                max_in_flight_requests: 50,
                max_buffered_requests: 10_000,
                max_batch_size_in_bytes: 5 * 1024 * 1024,
                max_time_in_buffer: Duration::from_secs(5),
                max_record_size_in_bytes: 1024 * 1024,
                request_timeout: Duration::from_secs(600),
                fail_on_timeout: false,
                call_timeout: None,
                retry: default_retry(),
            },
        }
    }

    /// Entries per request.
    pub fn max_batch_size(&self) -> usize {
        self.max_batch_size
    }

    /// Requests in flight at once.
    pub fn max_in_flight_requests(&self) -> usize {
        self.max_in_flight_requests
    }

    /// Entries buffered before writes wait (back-pressure).
    pub fn max_buffered_requests(&self) -> usize {
        self.max_buffered_requests
    }

    /// Bytes per request.
    pub fn max_batch_size_in_bytes(&self) -> usize {
        self.max_batch_size_in_bytes
    }

    /// Longest time an entry waits before its batch is sent.
    pub fn max_time_in_buffer(&self) -> Duration {
        self.max_time_in_buffer
    }

    /// Largest accepted entry.
    pub fn max_record_size_in_bytes(&self) -> usize {
        self.max_record_size_in_bytes
    }

    /// How the waits before re-sending failed entries grow.
    pub fn retry(&self) -> &RetryPolicy {
        &self.retry
    }
}

/// Builder of [`AsyncSinkConfig`].
#[derive(Debug, Clone)]
pub struct AsyncSinkConfigBuilder {
    config: AsyncSinkConfig,
}

impl AsyncSinkConfigBuilder {
    /// Entries per request (>= 1).
    pub fn max_batch_size(mut self, n: usize) -> Self {
        self.config.max_batch_size = n;
        self
    }

    /// Requests in flight at once (>= 1).
    pub fn max_in_flight_requests(mut self, n: usize) -> Self {
        self.config.max_in_flight_requests = n;
        self
    }

    /// Entries buffered before `write` waits (> `max_batch_size`).
    pub fn max_buffered_requests(mut self, n: usize) -> Self {
        self.config.max_buffered_requests = n;
        self
    }

    /// Bytes per request (>= `max_record_size_in_bytes`).
    pub fn max_batch_size_in_bytes(mut self, n: usize) -> Self {
        self.config.max_batch_size_in_bytes = n;
        self
    }

    /// Send a partial batch once its oldest entry waited this long (> 0).
    pub fn max_time_in_buffer(mut self, d: Duration) -> Self {
        self.config.max_time_in_buffer = d;
        self
    }

    /// Reject entries larger than this (>= 1).
    pub fn max_record_size_in_bytes(mut self, n: usize) -> Self {
        self.config.max_record_size_in_bytes = n;
        self
    }

    /// A request not answered within `timeout` is retried, or fails the writer when
    /// `fail_on_timeout` is true.
    pub fn request_timeout(mut self, timeout: Duration, fail_on_timeout: bool) -> Self {
        self.config.request_timeout = timeout;
        self.config.fail_on_timeout = fail_on_timeout;
        self
    }

    /// Abandon one request that got no answer within `timeout` and send its entries
    /// again in a new one (within `request_timeout`): a connection that went silent
    /// (packets dropped, a peer gone without a reset) is left behind instead of
    /// holding its batch until `request_timeout`. Not set by default (Flink has no
    /// such bound).
    pub fn call_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.config.call_timeout = timeout;
        self
    }

    /// Backoff before retrying after a failed request: `initial`, doubled per
    /// consecutive failure up to `max`, with jitter of 0.1 (default 50 ms to 5 s).
    pub fn retry_backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.config.retry = RetryPolicy::exponential(initial, max);
        self
    }

    /// The waits before retrying after a failed request, as a whole policy. Its limits
    /// are not used: `request_timeout` bounds a request, and entries are retried
    /// until they are written or the job fails.
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.config.retry = policy;
        self
    }

    /// Validate and build; the error names the bad option and value.
    pub fn build(self) -> Result<AsyncSinkConfig> {
        let c = self.config;
        let positive = [
            ("max_batch_size", c.max_batch_size),
            ("max_in_flight_requests", c.max_in_flight_requests),
            ("max_buffered_requests", c.max_buffered_requests),
            ("max_batch_size_in_bytes", c.max_batch_size_in_bytes),
            ("max_record_size_in_bytes", c.max_record_size_in_bytes),
        ];
        for (option, value) in positive {
            if value == 0 {
                return Err(StreamError::invalid(option, 0, "must be at least 1"));
            }
        }
        if c.max_buffered_requests <= c.max_batch_size {
            return Err(StreamError::invalid(
                "max_buffered_requests",
                c.max_buffered_requests,
                format!("must be greater than max_batch_size ({})", c.max_batch_size),
            ));
        }
        if c.max_batch_size_in_bytes < c.max_record_size_in_bytes {
            return Err(StreamError::invalid(
                "max_batch_size_in_bytes",
                c.max_batch_size_in_bytes,
                format!("must be at least max_record_size_in_bytes ({})", c.max_record_size_in_bytes),
            ));
        }
        if c.max_time_in_buffer.is_zero() {
            return Err(StreamError::invalid("max_time_in_buffer", "0ms", "must be greater than zero"));
        }
        if c.request_timeout.is_zero() {
            return Err(StreamError::invalid("request_timeout", "0ms", "must be greater than zero"));
        }
        if c.call_timeout.is_some_and(|t| t.is_zero()) {
            return Err(StreamError::invalid("call_timeout", "0ms", "must be greater than zero"));
        }
        if c.retry.max_delay() < c.retry.initial() {
            return Err(StreamError::invalid(
                "max_backoff",
                format!("{:?}", c.retry.max_delay()),
                format!("must be at least the initial backoff ({:?})", c.retry.initial()),
            ));
        }
        c.retry.validate("retry_policy")?;
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(b: AsyncSinkConfigBuilder) -> String {
        b.build().unwrap_err().to_string()
    }

    #[test]
    fn defaults_are_flinks_and_valid() {
        let c = AsyncSinkConfig::builder().build().unwrap();
        assert_eq!((c.max_batch_size(), c.max_in_flight_requests(), c.max_buffered_requests()), (500, 50, 10_000));
        assert_eq!(c.max_batch_size_in_bytes(), 5 * 1024 * 1024);
        assert_eq!(c.max_record_size_in_bytes(), 1024 * 1024);
        assert_eq!(c.max_time_in_buffer(), Duration::from_secs(5));
    }

    #[test]
    fn each_invalid_value_is_named() {
        assert!(err(AsyncSinkConfig::builder().max_batch_size(0)).contains("`max_batch_size` = 0"));
        assert!(err(AsyncSinkConfig::builder().max_in_flight_requests(0)).contains("`max_in_flight_requests` = 0"));
        assert!(
            err(AsyncSinkConfig::builder().max_batch_size(10).max_buffered_requests(10))
                .contains("`max_buffered_requests` = 10: must be greater than max_batch_size (10)")
        );
        assert!(
            err(AsyncSinkConfig::builder().max_record_size_in_bytes(100).max_batch_size_in_bytes(99))
                .contains("`max_batch_size_in_bytes` = 99")
        );
        assert!(err(AsyncSinkConfig::builder().max_time_in_buffer(Duration::ZERO)).contains("`max_time_in_buffer`"));
        assert!(err(AsyncSinkConfig::builder().request_timeout(Duration::ZERO, true)).contains("`request_timeout`"));
        assert!(err(AsyncSinkConfig::builder().call_timeout(Some(Duration::ZERO))).contains("`call_timeout` = 0ms"));
        assert!(
            err(AsyncSinkConfig::builder().retry_backoff(Duration::from_secs(2), Duration::from_secs(1)))
                .contains("`max_backoff`")
        );
    }
}

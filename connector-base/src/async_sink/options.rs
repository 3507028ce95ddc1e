//! The batching options every request/response sink builder offers (Flink's
//! `AsyncSinkBaseBuilder`), checked against the limits of the service's write API.
//! A connector builder keeps an [`AsyncSinkOptions`] and gets the setters from
//! [`crate::async_sink_options!`].

use std::time::Duration;

use stream_core::retry::RetryPolicy;
use stream_core::{Result, StreamError};

use super::AsyncSinkConfig;
use crate::DeliveryGuarantee;

/// The limits of one write API (for example `PutRecords`: 500 records, 5 MiB per
/// request, 1 MiB per record).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServiceLimits {
    /// The API call, named in errors.
    pub api: &'static str,
    /// Entries per request.
    pub max_batch_size: usize,
    /// Bytes per request.
    pub max_batch_size_in_bytes: usize,
    /// Bytes per entry.
    pub max_record_size_in_bytes: usize,
}

/// What the user set; defaults are the service's limits and Flink's defaults (50
/// requests in flight, 10 000 buffered entries, 5 s in buffer, 10 min timeout).
#[derive(Debug, Clone, PartialEq)]
pub struct AsyncSinkOptions {
    /// The service's limits.
    pub limits: ServiceLimits,
    /// Entries per request.
    pub max_batch_size: usize,
    /// Requests in flight (`None`: the sink's default for its guarantee).
    pub max_in_flight_requests: Option<usize>,
    /// Entries buffered before writes wait.
    pub max_buffered_requests: usize,
    /// Bytes per request.
    pub max_batch_size_in_bytes: usize,
    /// Largest entry accepted.
    pub max_record_size_in_bytes: usize,
    /// How long a partial batch waits.
    pub max_time_in_buffer: Duration,
    /// How long a batch may keep failing before the job fails.
    pub request_timeout: Duration,
    /// How long one request may take before it is abandoned and sent again.
    pub call_timeout: Duration,
    /// The waits before failed entries are sent again.
    pub retry: RetryPolicy,
}

impl AsyncSinkOptions {
    /// The defaults for a service with `limits`.
    pub fn new(limits: ServiceLimits) -> Self {
        AsyncSinkOptions {
            limits,
            max_batch_size: limits.max_batch_size,
            max_in_flight_requests: None,
            max_buffered_requests: 10_000,
            max_batch_size_in_bytes: limits.max_batch_size_in_bytes,
            max_record_size_in_bytes: limits.max_record_size_in_bytes,
            max_time_in_buffer: Duration::from_secs(5),
            request_timeout: Duration::from_secs(600),
            call_timeout: Duration::from_secs(30),
            retry: super::config::default_retry(),
        }
    }

    /// Validate against the service's limits and build the writer's config; requests
    /// in flight follow [`AsyncSinkConfig::in_flight_for`] (`default_in_flight` when
    /// not set). Errors name the option, the value and the limit.
    pub fn build(&self, guarantee: DeliveryGuarantee, default_in_flight: usize) -> Result<AsyncSinkConfig> {
        let limits = self.limits;
        let checks = [
            ("max_batch_size", self.max_batch_size, limits.max_batch_size, "entries"),
            ("max_batch_size_in_bytes", self.max_batch_size_in_bytes, limits.max_batch_size_in_bytes, "bytes"),
            ("max_record_size_in_bytes", self.max_record_size_in_bytes, limits.max_record_size_in_bytes, "bytes"),
        ];
        for (option, value, limit, unit) in checks {
            if value > limit {
                return Err(StreamError::invalid(
                    option,
                    value,
                    format!("{} takes at most {limit} {unit}", limits.api),
                ));
            }
        }
        let in_flight = AsyncSinkConfig::in_flight_for(guarantee, self.max_in_flight_requests, default_in_flight)?;
        AsyncSinkConfig::builder()
            .max_batch_size(self.max_batch_size)
            .max_in_flight_requests(in_flight)
            .max_buffered_requests(self.max_buffered_requests)
            .max_batch_size_in_bytes(self.max_batch_size_in_bytes)
            .max_record_size_in_bytes(self.max_record_size_in_bytes)
            .max_time_in_buffer(self.max_time_in_buffer)
            .request_timeout(self.request_timeout, true)
            .call_timeout(Some(self.call_timeout))
            .retry_policy(self.retry.clone())
            .build()
    }
}

/// The batching setters of a sink builder whose field `$field` is an
/// [`AsyncSinkOptions`](crate::async_sink::AsyncSinkOptions): `max_batch_size`,
/// `max_in_flight_requests`, `max_buffered_requests`, `max_batch_size_in_bytes`,
/// `max_record_size_in_bytes`, `max_time_in_buffer`, `request_timeout`,
/// `call_timeout`, `retry_backoff`. Use it inside
/// the builder's `impl` block; the second argument documents the sink's default
/// number of requests in flight.
#[macro_export]
macro_rules! async_sink_options {
    ($field:ident, $in_flight_default:literal) => {
        /// Entries per request (at most the API's limit, the default).
        pub fn max_batch_size(mut self, n: usize) -> Self {
            self.$field.max_batch_size = n;
            self
        }

        /// Requests in flight at once
        #[doc = concat!("(", $in_flight_default, ").")]
        pub fn max_in_flight_requests(mut self, n: usize) -> Self {
            self.$field.max_in_flight_requests = Some(n);
            self
        }

        /// Entries buffered before writes wait (default 10 000; more than
        /// `max_batch_size`).
        pub fn max_buffered_requests(mut self, n: usize) -> Self {
            self.$field.max_buffered_requests = n;
            self
        }

        /// Bytes per request (at most the API's limit, the default).
        pub fn max_batch_size_in_bytes(mut self, n: usize) -> Self {
            self.$field.max_batch_size_in_bytes = n;
            self
        }

        /// Largest entry accepted (at most the API's limit, the default); a larger
        /// one fails the job naming its size.
        pub fn max_record_size_in_bytes(mut self, n: usize) -> Self {
            self.$field.max_record_size_in_bytes = n;
            self
        }

        /// Send a partial batch once its oldest entry waited this long (default 5 s).
        pub fn max_time_in_buffer(mut self, d: std::time::Duration) -> Self {
            self.$field.max_time_in_buffer = d;
            self
        }

        /// A batch still failing after this long fails the job (default 10 min).
        pub fn request_timeout(mut self, d: std::time::Duration) -> Self {
            self.$field.request_timeout = d;
            self
        }

        /// One request not answered within this is abandoned and its entries are
        /// sent again in a new one, on a new connection (default 30 s): a connection
        /// gone silent (packets dropped, a peer gone without a reset) then costs this
        /// long, not `request_timeout`.
        pub fn call_timeout(mut self, d: std::time::Duration) -> Self {
            self.$field.call_timeout = d;
            self
        }

        /// The wait before failed entries are sent again: `initial`, doubled per
        /// failure in a row up to `max`, with jitter (default 50 ms to 5 s).
        pub fn retry_backoff(mut self, initial: std::time::Duration, max: std::time::Duration) -> Self {
            self.$field.retry = stream_core::retry::RetryPolicy::exponential(initial, max);
            self
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: ServiceLimits = ServiceLimits {
        api: "PutThings",
        max_batch_size: 10,
        max_batch_size_in_bytes: 1000,
        max_record_size_in_bytes: 100,
    };

    #[test]
    fn options_over_the_service_limits_are_refused_naming_the_api() {
        let mut options = AsyncSinkOptions::new(LIMITS);
        assert!(options.build(DeliveryGuarantee::AtLeastOnce, 50).is_ok());
        options.max_record_size_in_bytes = 101;
        let error = options.build(DeliveryGuarantee::AtLeastOnce, 50).map(drop).unwrap_err().to_string();
        assert!(error.contains("max_record_size_in_bytes") && error.contains("PutThings takes at most 100"), "{error}");
        let mut options = AsyncSinkOptions::new(LIMITS);
        options.max_in_flight_requests = Some(4);
        assert!(options.build(DeliveryGuarantee::ExactlyOnce, 50).is_err(), "exactly-once needs one in flight");
    }
}

//! The sink's builder and the validation of its options.

use std::sync::Arc;
use std::time::Duration;

use aws_config::SdkConfig;
use connector_base::async_sink::AsyncSinkConfig;
use connector_base::schema::SerializationSchema;
use stream_core::{Result, StreamError};

/// Firehose's limits on `PutRecordBatch`.
const MAX_RECORDS_PER_BATCH: usize = 500;
const MAX_BATCH_BYTES: usize = 4 * 1024 * 1024;
const MAX_RECORD_BYTES: usize = 1000 * 1024;

/// Writes records to one Firehose delivery stream with `PutRecordBatch`, at-least-once.
/// Build with [`FirehoseSink::builder`].
pub struct FirehoseSink<T> {
    pub(crate) sdk: SdkConfig,
    pub(crate) stream: String,
    pub(crate) schema: Arc<dyn SerializationSchema<T>>,
    pub(crate) async_config: AsyncSinkConfig,
}

impl<T> std::fmt::Debug for FirehoseSink<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FirehoseSink")
            .field("delivery_stream", &self.stream)
            .field("region", &self.sdk.region())
            .finish_non_exhaustive()
    }
}

impl<T: Send + 'static> FirehoseSink<T> {
    /// Write to `delivery_stream` with the region, credentials and endpoint of `sdk`,
    /// each record encoded by `schema` (Firehose adds no delimiter: end records with a
    /// newline if the destination needs one).
    pub fn builder(
        sdk: &SdkConfig,
        delivery_stream: impl Into<String>,
        schema: impl SerializationSchema<T>,
    ) -> FirehoseSinkBuilder<T> {
        FirehoseSinkBuilder {
            sdk: sdk.clone(),
            stream: delivery_stream.into(),
            schema: Arc::new(schema),
            max_batch_size: MAX_RECORDS_PER_BATCH,
            max_in_flight_requests: 50,
            max_buffered_requests: 10_000,
            max_batch_size_in_bytes: MAX_BATCH_BYTES,
            max_record_size_in_bytes: MAX_RECORD_BYTES,
            max_time_in_buffer: Duration::from_secs(5),
            request_timeout: Duration::from_secs(600),
        }
    }
}

/// Builder of [`FirehoseSink`] (defaults are Flink's).
pub struct FirehoseSinkBuilder<T> {
    sdk: SdkConfig,
    stream: String,
    schema: Arc<dyn SerializationSchema<T>>,
    max_batch_size: usize,
    max_in_flight_requests: usize,
    max_buffered_requests: usize,
    max_batch_size_in_bytes: usize,
    max_record_size_in_bytes: usize,
    max_time_in_buffer: Duration,
    request_timeout: Duration,
}

impl<T: Send + 'static> FirehoseSinkBuilder<T> {
    /// Records per `PutRecordBatch` (1 to 500, default 500).
    pub fn max_batch_size(mut self, n: usize) -> Self {
        self.max_batch_size = n;
        self
    }

    /// Batches in flight at once (default 50).
    pub fn max_in_flight_requests(mut self, n: usize) -> Self {
        self.max_in_flight_requests = n;
        self
    }

    /// Records buffered before writes wait (default 10 000).
    pub fn max_buffered_requests(mut self, n: usize) -> Self {
        self.max_buffered_requests = n;
        self
    }

    /// Bytes per batch (at most 4 MiB, the default).
    pub fn max_batch_size_in_bytes(mut self, n: usize) -> Self {
        self.max_batch_size_in_bytes = n;
        self
    }

    /// Largest record accepted (at most 1000 KiB, the default); a larger one fails the
    /// job naming its size.
    pub fn max_record_size_in_bytes(mut self, n: usize) -> Self {
        self.max_record_size_in_bytes = n;
        self
    }

    /// Send a partial batch once its oldest record waited this long (default 5 s).
    pub fn max_time_in_buffer(mut self, d: Duration) -> Self {
        self.max_time_in_buffer = d;
        self
    }

    /// A batch still failing after this long fails the job (default 10 min).
    pub fn request_timeout(mut self, d: Duration) -> Self {
        self.request_timeout = d;
        self
    }

    /// Validate and build; the error names the bad option and value.
    pub fn build(self) -> Result<FirehoseSink<T>> {
        if self.stream.trim().is_empty() {
            return Err(StreamError::invalid("delivery_stream", "\"\"", "name the delivery stream to write to"));
        }
        if !(1..=MAX_RECORDS_PER_BATCH).contains(&self.max_batch_size) {
            return Err(StreamError::invalid("max_batch_size", self.max_batch_size, "PutRecordBatch takes 1 to 500"));
        }
        if self.max_batch_size_in_bytes > MAX_BATCH_BYTES {
            return Err(StreamError::invalid(
                "max_batch_size_in_bytes",
                self.max_batch_size_in_bytes,
                "PutRecordBatch takes at most 4 MiB",
            ));
        }
        if self.max_record_size_in_bytes > MAX_RECORD_BYTES {
            return Err(StreamError::invalid(
                "max_record_size_in_bytes",
                self.max_record_size_in_bytes,
                "Firehose records are at most 1000 KiB",
            ));
        }
        let async_config = AsyncSinkConfig::builder()
            .max_batch_size(self.max_batch_size)
            .max_in_flight_requests(self.max_in_flight_requests)
            .max_buffered_requests(self.max_buffered_requests)
            .max_batch_size_in_bytes(self.max_batch_size_in_bytes)
            .max_record_size_in_bytes(self.max_record_size_in_bytes)
            .max_time_in_buffer(self.max_time_in_buffer)
            .request_timeout(self.request_timeout, true)
            .build()?;
        Ok(FirehoseSink { sdk: self.sdk, stream: self.stream, schema: self.schema, async_config })
    }
}

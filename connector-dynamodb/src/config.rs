//! The sink's builder and the validation of its options.

use std::sync::Arc;
use std::time::Duration;

use aws_config::SdkConfig;
use connector_base::DeliveryGuarantee;
use connector_base::async_sink::AsyncSinkConfig;
use stream_core::{Result, StreamError};

use crate::error::DynamoDbError;
use crate::request::DynamoDbWriteRequest;

/// DynamoDB's limits on `BatchWriteItem`.
const MAX_ITEMS_PER_BATCH: usize = 25;
const MAX_BATCH_BYTES: usize = 16 * 1024 * 1024;
const MAX_ITEM_BYTES: usize = 400 * 1024;

pub(crate) type Convert<T> = Arc<dyn Fn(T) -> std::result::Result<DynamoDbWriteRequest, DynamoDbError> + Send + Sync>;

/// Writes records to one DynamoDB table with `BatchWriteItem`. Build with
/// [`DynamoDbSink::builder`].
pub struct DynamoDbSink<T> {
    pub(crate) sdk: SdkConfig,
    pub(crate) table: String,
    pub(crate) convert: Convert<T>,
    pub(crate) overwrite_keys: Option<Vec<String>>,
    pub(crate) guarantee: DeliveryGuarantee,
    pub(crate) async_config: AsyncSinkConfig,
}

impl<T> std::fmt::Debug for DynamoDbSink<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The SdkConfig's own Debug hides credentials; only name what identifies the sink.
        f.debug_struct("DynamoDbSink")
            .field("table", &self.table)
            .field("region", &self.sdk.region())
            .field("overwrite_by_partition_keys", &self.overwrite_keys)
            .field("guarantee", &self.guarantee)
            .finish_non_exhaustive()
    }
}

impl<T: Send + 'static> DynamoDbSink<T> {
    /// Write to `table` with the region, credentials and endpoint of `sdk` (from
    /// `aws_config::load_defaults`, or with `endpoint_url` for DynamoDB Local);
    /// `convert` turns a record into a put or a delete
    /// (`|r| DynamoDbWriteRequest::put(&r)` for a serde struct).
    pub fn builder(
        sdk: &SdkConfig,
        table: impl Into<String>,
        convert: impl Fn(T) -> std::result::Result<DynamoDbWriteRequest, DynamoDbError> + Send + Sync + 'static,
    ) -> DynamoDbSinkBuilder<T> {
        DynamoDbSinkBuilder {
            sdk: sdk.clone(),
            table: table.into(),
            convert: Arc::new(convert),
            overwrite_keys: None,
            guarantee: DeliveryGuarantee::AtLeastOnce,
            max_batch_size: MAX_ITEMS_PER_BATCH,
            max_in_flight_requests: None,
            max_buffered_requests: 10_000,
            max_batch_size_in_bytes: MAX_BATCH_BYTES,
            max_record_size_in_bytes: MAX_ITEM_BYTES,
            max_time_in_buffer: Duration::from_secs(5),
            request_timeout: Duration::from_secs(600),
        }
    }

    /// The guarantee this sink gives.
    pub fn guarantee(&self) -> DeliveryGuarantee {
        self.guarantee
    }
}

/// Builder of [`DynamoDbSink`].
pub struct DynamoDbSinkBuilder<T> {
    sdk: SdkConfig,
    table: String,
    convert: Convert<T>,
    overwrite_keys: Option<Vec<String>>,
    guarantee: DeliveryGuarantee,
    max_batch_size: usize,
    max_in_flight_requests: Option<usize>,
    max_buffered_requests: usize,
    max_batch_size_in_bytes: usize,
    max_record_size_in_bytes: usize,
    max_time_in_buffer: Duration,
    request_timeout: Duration,
}

impl<T: Send + 'static> DynamoDbSinkBuilder<T> {
    /// The primary key attributes (partition key, and sort key if the table has one).
    /// Requests for the same key inside one batch are reduced to the newest, as
    /// `BatchWriteItem` rejects a batch that names a key twice.
    pub fn overwrite_by_partition_keys<S: Into<String>>(mut self, keys: impl IntoIterator<Item = S>) -> Self {
        self.overwrite_keys = Some(keys.into_iter().map(Into::into).collect());
        self
    }

    /// `AtLeastOnce` (default) or `ExactlyOnce`: puts and deletes by key are
    /// idempotent, so replaying them in order leaves the table as one delivery would;
    /// exactly-once keeps one request in flight to keep that order.
    pub fn delivery_guarantee(mut self, guarantee: DeliveryGuarantee) -> Self {
        self.guarantee = guarantee;
        self
    }

    /// Requests per `BatchWriteItem` (1 to 25, default 25).
    pub fn max_batch_size(mut self, n: usize) -> Self {
        self.max_batch_size = n;
        self
    }

    /// Batches in flight at once (default 4; exactly-once needs 1).
    pub fn max_in_flight_requests(mut self, n: usize) -> Self {
        self.max_in_flight_requests = Some(n);
        self
    }

    /// Requests buffered before writes wait (default 10 000).
    pub fn max_buffered_requests(mut self, n: usize) -> Self {
        self.max_buffered_requests = n;
        self
    }

    /// Bytes per batch (at most 16 MiB, the default).
    pub fn max_batch_size_in_bytes(mut self, n: usize) -> Self {
        self.max_batch_size_in_bytes = n;
        self
    }

    /// Largest item accepted (at most 400 KiB, the default); a larger one fails the
    /// job naming its size.
    pub fn max_record_size_in_bytes(mut self, n: usize) -> Self {
        self.max_record_size_in_bytes = n;
        self
    }

    /// Send a partial batch once its oldest request waited this long (default 5 s).
    pub fn max_time_in_buffer(mut self, d: Duration) -> Self {
        self.max_time_in_buffer = d;
        self
    }

    /// A batch still failing to be accepted after this long fails the job (default 10 min).
    pub fn request_timeout(mut self, d: Duration) -> Self {
        self.request_timeout = d;
        self
    }

    /// Validate and build; the error names the bad option and value.
    pub fn build(self) -> Result<DynamoDbSink<T>> {
        if self.table.trim().is_empty() {
            return Err(StreamError::invalid("table", "\"\"", "name the table to write to"));
        }
        if !(1..=MAX_ITEMS_PER_BATCH).contains(&self.max_batch_size) {
            return Err(StreamError::invalid("max_batch_size", self.max_batch_size, "BatchWriteItem takes 1 to 25"));
        }
        if self.max_batch_size_in_bytes > MAX_BATCH_BYTES {
            return Err(StreamError::invalid(
                "max_batch_size_in_bytes",
                self.max_batch_size_in_bytes,
                "BatchWriteItem takes at most 16 MiB",
            ));
        }
        if self.max_record_size_in_bytes > MAX_ITEM_BYTES {
            return Err(StreamError::invalid(
                "max_record_size_in_bytes",
                self.max_record_size_in_bytes,
                "DynamoDB items are at most 400 KiB",
            ));
        }
        if self.overwrite_keys.as_ref().is_some_and(|k| k.is_empty() || k.len() > 2) {
            return Err(StreamError::invalid(
                "overwrite_by_partition_keys",
                format!("{:?}", self.overwrite_keys.unwrap_or_default()),
                "name the partition key, and the sort key if the table has one",
            ));
        }
        if !matches!(self.guarantee, DeliveryGuarantee::AtLeastOnce | DeliveryGuarantee::ExactlyOnce) {
            return Err(StreamError::invalid(
                "delivery_guarantee",
                self.guarantee,
                "the DynamoDB sink offers at-least-once, or exactly-once for its keyed puts and deletes",
            ));
        }
        let in_flight = AsyncSinkConfig::in_flight_for(self.guarantee, self.max_in_flight_requests, 4)?;
        let async_config = AsyncSinkConfig::builder()
            .max_batch_size(self.max_batch_size)
            .max_in_flight_requests(in_flight)
            .max_buffered_requests(self.max_buffered_requests)
            .max_batch_size_in_bytes(self.max_batch_size_in_bytes)
            .max_record_size_in_bytes(self.max_record_size_in_bytes)
            .max_time_in_buffer(self.max_time_in_buffer)
            .request_timeout(self.request_timeout, true)
            .build()?;
        Ok(DynamoDbSink {
            sdk: self.sdk,
            table: self.table,
            convert: self.convert,
            overwrite_keys: self.overwrite_keys,
            guarantee: self.guarantee,
            async_config,
        })
    }
}

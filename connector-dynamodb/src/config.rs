//! The sink's builder and the validation of its options.

use std::sync::Arc;

use aws_config::SdkConfig;
use connector_base::DeliveryGuarantee;
use connector_base::async_sink::{AsyncSink, AsyncSinkOptions, ServiceLimits};
use stream_core::{Result, StreamError};

use crate::error::DynamoDbError;
use crate::request::DynamoDbWriteRequest;

/// DynamoDB's limits on `BatchWriteItem`.
const BATCH_WRITE_ITEM: ServiceLimits = ServiceLimits {
    api: "BatchWriteItem",
    max_batch_size: 25,
    max_batch_size_in_bytes: 16 * 1024 * 1024,
    max_record_size_in_bytes: 400 * 1024,
};

pub(crate) type Convert<T> = Arc<dyn Fn(T) -> std::result::Result<DynamoDbWriteRequest, DynamoDbError> + Send + Sync>;

/// Writes records to one DynamoDB table with `BatchWriteItem` (connector-base's
/// batching, retrying [`AsyncSink`]). Build with [`DynamoDbSinkBuilder::new`].
pub type DynamoDbSink<T> = AsyncSink<T, DynamoDbTable<T>>;

/// The table a [`DynamoDbSink`] writes to and how records become requests.
pub struct DynamoDbTable<T> {
    pub(crate) sdk: SdkConfig,
    pub(crate) table: String,
    pub(crate) convert: Convert<T>,
    pub(crate) overwrite_keys: Option<Vec<String>>,
    pub(crate) guarantee: DeliveryGuarantee,
}

impl<T> std::fmt::Debug for DynamoDbTable<T> {
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

/// Builder of [`DynamoDbSink`].
pub struct DynamoDbSinkBuilder<T> {
    sdk: SdkConfig,
    table: String,
    convert: Convert<T>,
    overwrite_keys: Option<Vec<String>>,
    guarantee: DeliveryGuarantee,
    options: AsyncSinkOptions,
}

impl<T: Send + 'static> DynamoDbSinkBuilder<T> {
    /// Write to `table` with the region, credentials and endpoint of `sdk` (from
    /// `aws_config::load_defaults`, or with `endpoint_url` for DynamoDB Local);
    /// `convert` turns a record into a put or a delete
    /// (`|r| DynamoDbWriteRequest::put(&r)` for a serde struct).
    pub fn new(
        sdk: &SdkConfig,
        table: impl Into<String>,
        convert: impl Fn(T) -> std::result::Result<DynamoDbWriteRequest, DynamoDbError> + Send + Sync + 'static,
    ) -> Self {
        DynamoDbSinkBuilder {
            sdk: sdk.clone(),
            table: table.into(),
            convert: Arc::new(convert),
            overwrite_keys: None,
            guarantee: DeliveryGuarantee::AtLeastOnce,
            options: AsyncSinkOptions::new(BATCH_WRITE_ITEM),
        }
    }

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

    connector_base::async_sink_options!(options, "default 4; exactly-once needs 1");

    /// Validate and build; the error names the bad option and value.
    pub fn build(self) -> Result<DynamoDbSink<T>> {
        if self.table.trim().is_empty() {
            return Err(StreamError::invalid("table", "\"\"", "name the table to write to"));
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
        let async_config = self.options.build(self.guarantee, 4)?;
        let table = DynamoDbTable {
            sdk: self.sdk,
            table: self.table,
            convert: self.convert,
            overwrite_keys: self.overwrite_keys,
            guarantee: self.guarantee,
        };
        Ok(AsyncSink::new(table, async_config))
    }
}

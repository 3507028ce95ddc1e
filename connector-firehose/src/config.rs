//! The sink's builder and the validation of its options.

use std::sync::Arc;

use aws_config::SdkConfig;
use connector_base::DeliveryGuarantee;
use connector_base::async_sink::{AsyncSink, AsyncSinkOptions, ServiceLimits};
use connector_base::schema::SerializationSchema;
use stream_core::{Result, StreamError};

/// `PutRecordBatch`: 500 records, 4 MiB per request, 1000 KiB per record.
const PUT_RECORD_BATCH: ServiceLimits = ServiceLimits {
    api: "PutRecordBatch",
    max_batch_size: 500,
    max_batch_size_in_bytes: 4 * 1024 * 1024,
    max_record_size_in_bytes: 1000 * 1024,
};

/// Writes records to one Firehose delivery stream with `PutRecordBatch`, at-least-once
/// (connector-base's batching, retrying [`AsyncSink`]). Build with
/// [`FirehoseSinkBuilder::new`].
pub type FirehoseSink<T> = AsyncSink<T, FirehoseStream<T>>;

/// The delivery stream a [`FirehoseSink`] writes to and how records are encoded.
pub struct FirehoseStream<T> {
    pub(crate) sdk: SdkConfig,
    pub(crate) stream: String,
    pub(crate) schema: Arc<dyn SerializationSchema<T>>,
}

impl<T> std::fmt::Debug for FirehoseStream<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FirehoseSink")
            .field("delivery_stream", &self.stream)
            .field("region", &self.sdk.region())
            .finish_non_exhaustive()
    }
}

/// Builder of [`FirehoseSink`] (defaults are Flink's).
pub struct FirehoseSinkBuilder<T> {
    sdk: SdkConfig,
    stream: String,
    schema: Arc<dyn SerializationSchema<T>>,
    options: AsyncSinkOptions,
}

impl<T: Send + 'static> FirehoseSinkBuilder<T> {
    /// Write to `delivery_stream` with the region, credentials and endpoint of `sdk`,
    /// each record encoded by `schema` (Firehose adds no delimiter: end records with a
    /// newline if the destination needs one).
    pub fn new(sdk: &SdkConfig, delivery_stream: impl Into<String>, schema: impl SerializationSchema<T>) -> Self {
        FirehoseSinkBuilder {
            sdk: sdk.clone(),
            stream: delivery_stream.into(),
            schema: Arc::new(schema),
            options: AsyncSinkOptions::new(PUT_RECORD_BATCH),
        }
    }

    connector_base::async_sink_options!(options, "default 50");

    /// Validate and build; the error names the bad option and value.
    pub fn build(self) -> Result<FirehoseSink<T>> {
        if self.stream.trim().is_empty() {
            return Err(StreamError::invalid("delivery_stream", "\"\"", "name the delivery stream to write to"));
        }
        let async_config = self.options.build(DeliveryGuarantee::AtLeastOnce, 50)?;
        let stream = FirehoseStream { sdk: self.sdk, stream: self.stream, schema: self.schema };
        Ok(AsyncSink::new(stream, async_config))
    }
}

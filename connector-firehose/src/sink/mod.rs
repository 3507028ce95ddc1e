//! The sink: connector-base's batching, retrying [`AsyncSink`] with a delivery
//! stream as its target; buffered records are part of the checkpoint.
//!
//! [`AsyncSink`]: connector_base::async_sink::AsyncSink

mod client;

pub use client::FirehoseClient;

use connector_base::async_sink::AsyncSinkTarget;
use connector_base::aws;
use stream_core::Result;
use stream_core::api::TaskContext;

use crate::config::FirehoseStream;
use crate::record::FirehoseRecord;

impl<T: Send + 'static> AsyncSinkTarget<T> for FirehoseStream<T> {
    type Client = FirehoseClient;

    async fn connect(&self, _ctx: &TaskContext) -> Result<FirehoseClient> {
        let client = aws_sdk_firehose::Client::new(&self.sdk);
        let describe = client.describe_delivery_stream().delivery_stream_name(&self.stream).send();
        aws::check_exists("Firehose delivery stream", &self.stream, &self.sdk, describe).await?;
        Ok(FirehoseClient { client, stream: self.stream.clone() })
    }

    fn connector_name(&self) -> &'static str {
        "firehose"
    }

    fn convert(&self, record: T) -> Result<FirehoseRecord> {
        self.schema.serialize(&record).map(FirehoseRecord).map_err(connector_base::BaseError::unencodable)
    }
}

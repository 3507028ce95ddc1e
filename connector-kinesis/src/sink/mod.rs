//! The sink: connector-base's batching, retrying [`AsyncSink`] with a stream as its
//! target; buffered records are part of the checkpoint.
//!
//! [`AsyncSink`]: connector_base::async_sink::AsyncSink

mod client;
mod entry;

pub use client::KinesisClient;
pub use entry::KinesisEntry;

use connector_base::async_sink::AsyncSinkTarget;
use stream_core::api::TaskContext;
use stream_core::{Result, StreamError};

use crate::config::KinesisStreamTarget;
use crate::stream;

impl<T: Send + 'static> AsyncSinkTarget<T> for KinesisStreamTarget<T> {
    type Client = KinesisClient;

    async fn connect(&self, _ctx: &TaskContext) -> Result<KinesisClient> {
        stream::check_exists(&self.sdk, &self.stream).await?;
        Ok(KinesisClient::new(&self.sdk, &self.stream))
    }

    fn connector_name(&self) -> &'static str {
        "kinesis"
    }

    fn convert(&self, record: T) -> Result<KinesisEntry> {
        let key = (self.partition_key)(&record);
        if !(1..=256).contains(&key.chars().count()) {
            return Err(StreamError::invalid("partition_key", format!("{key:?}"), "must be 1 to 256 characters"));
        }
        let data = self.schema.serialize(&record).map_err(connector_base::BaseError::unencodable)?;
        Ok(KinesisEntry { data, partition_key: key })
    }
}

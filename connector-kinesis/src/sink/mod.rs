//! The sink: one batching, retrying writer per subtask (connector-base's
//! [`AsyncSinkWriter`]); buffered records are part of the checkpoint.

mod client;
mod entry;

pub use client::KinesisClient;
pub use entry::KinesisEntry;

use std::sync::Arc;

use connector_base::async_sink::AsyncSinkWriter;
use stream_core::api::{NoCommitter, Sink, TaskContext};
use stream_core::{Result, StreamError};

use crate::config::KinesisStreamsSink;

impl<T: Send + 'static> Sink<T> for KinesisStreamsSink<T> {
    type Committable = ();
    type WriterState = KinesisEntry;
    type Writer = AsyncSinkWriter<T, KinesisClient>;
    type Committer = NoCommitter<()>;

    async fn create_writer(&self, _ctx: &TaskContext, restored: Vec<KinesisEntry>) -> Result<Self::Writer> {
        let client = aws_sdk_kinesis::Client::new(&self.sdk);
        crate::stream_check::check_stream(&client, &self.sdk, &self.stream).await?;
        let client = Arc::new(KinesisClient::new(&self.sdk, &self.stream));
        let (schema, partition_key) = (self.schema.clone(), self.partition_key.clone());
        let convert = move |record: T| {
            let key = partition_key(&record);
            if !(1..=256).contains(&key.chars().count()) {
                return Err(StreamError::invalid("partition_key", format!("{key:?}"), "must be 1 to 256 characters"));
            }
            let data = schema
                .serialize(&record)
                .map_err(|e| StreamError::invalid("record", e, "the serialization schema could not encode it"))?;
            Ok(KinesisEntry { data, partition_key: key })
        };
        Ok(AsyncSinkWriter::new(self.async_config.clone(), client, convert, restored))
    }

    async fn create_committer(&self, _ctx: &TaskContext) -> Result<NoCommitter<()>> {
        Ok(NoCommitter::default())
    }
}

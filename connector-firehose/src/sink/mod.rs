//! The sink: one batching, retrying writer per subtask (connector-base's
//! [`AsyncSinkWriter`]); buffered records are part of the checkpoint.

mod client;

pub use client::FirehoseClient;

use std::sync::Arc;
use std::time::Duration;

use connector_base::async_sink::AsyncSinkWriter;
use connector_base::aws;
use stream_core::api::{NoCommitter, Sink, TaskContext};
use stream_core::{Result, StreamError};

use crate::config::FirehoseSink;
use crate::error::FirehoseError;
use crate::record::FirehoseRecord;

/// How long the delivery stream check at start may take.
const CHECK_TIMEOUT: Duration = Duration::from_secs(30);

impl<T: Send + 'static> FirehoseSink<T> {
    /// A missing stream, a wrong endpoint or region or bad credentials fail here, at
    /// the start, naming the stream and the endpoint.
    async fn check_stream(&self, client: &aws_sdk_firehose::Client) -> Result<()> {
        let describe = client.describe_delivery_stream().delivery_stream_name(&self.stream).send();
        aws::call_within(CHECK_TIMEOUT, describe).await.map(drop).map_err(|message| {
            FirehoseError::Stream { stream: self.stream.clone(), endpoint: aws::endpoint_of(&self.sdk), message }.into()
        })
    }
}

impl<T: Send + 'static> Sink<T> for FirehoseSink<T> {
    type Committable = ();
    type WriterState = FirehoseRecord;
    type Writer = AsyncSinkWriter<T, FirehoseClient>;
    type Committer = NoCommitter<()>;

    async fn create_writer(&self, _ctx: &TaskContext, restored: Vec<FirehoseRecord>) -> Result<Self::Writer> {
        let client = aws_sdk_firehose::Client::new(&self.sdk);
        self.check_stream(&client).await?;
        let client = Arc::new(FirehoseClient { client, stream: self.stream.clone() });
        let schema = self.schema.clone();
        let convert = move |record: T| {
            schema
                .serialize(&record)
                .map(FirehoseRecord)
                .map_err(|e| StreamError::invalid("record", e, "the serialization schema could not encode it"))
        };
        Ok(AsyncSinkWriter::new(self.async_config.clone(), client, convert, restored))
    }

    async fn create_committer(&self, _ctx: &TaskContext) -> Result<NoCommitter<()>> {
        Ok(NoCommitter::default())
    }
}

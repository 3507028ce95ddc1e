//! The sink: one batching, retrying writer per subtask (connector-base's
//! [`AsyncSinkWriter`]); buffered records are part of the checkpoint.

mod client;

pub use client::FirehoseClient;

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_firehose::error::ProvideErrorMetadata;
use connector_base::async_sink::AsyncSinkWriter;
use stream_core::api::{NoCommitter, Sink, TaskContext};
use stream_core::{Result, StreamError};

use crate::config::FirehoseSink;
use crate::error::FirehoseError;
use crate::record::FirehoseRecord;

/// How long the delivery stream check at start may take.
const CHECK_TIMEOUT: Duration = Duration::from_secs(30);

impl<T: Send + 'static> FirehoseSink<T> {
    fn endpoint(&self) -> String {
        match (self.sdk.endpoint_url(), self.sdk.region()) {
            (Some(url), _) => url.to_string(),
            (None, Some(region)) => format!("region {region}"),
            (None, None) => "no region (set one in the SdkConfig)".to_string(),
        }
    }

    /// A missing stream, a wrong endpoint or region or bad credentials fail here, at
    /// the start, naming the stream and the endpoint.
    async fn check_stream(&self, client: &aws_sdk_firehose::Client) -> Result<()> {
        let call = client.describe_delivery_stream().delivery_stream_name(&self.stream).send();
        let message = match tokio::time::timeout(CHECK_TIMEOUT, call).await {
            Ok(Ok(_)) => return Ok(()),
            Ok(Err(e)) => match e.as_service_error() {
                Some(service) => {
                    format!("{}: {}", service.code().unwrap_or("Unknown"), service.message().unwrap_or(""))
                }
                None => format!("{e} ({e:?})").chars().take(400).collect(),
            },
            Err(_) => format!("no answer within {CHECK_TIMEOUT:?}"),
        };
        Err(FirehoseError::Stream { stream: self.stream.clone(), endpoint: self.endpoint(), message }.into())
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

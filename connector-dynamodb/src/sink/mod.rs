//! The sink: one batching, retrying writer per subtask (connector-base's
//! [`AsyncSinkWriter`]); buffered requests are part of the checkpoint.

mod client;

pub use client::DynamoDbClient;

use std::sync::Arc;
use std::time::Duration;

use connector_base::async_sink::AsyncSinkWriter;
use connector_base::aws;
use stream_core::Result;
use stream_core::api::{NoCommitter, Sink, TaskContext};

use crate::config::DynamoDbSink;
use crate::error::DynamoDbError;
use crate::request::DynamoDbWriteRequest;

/// How long the table check at start may take.
const CHECK_TIMEOUT: Duration = Duration::from_secs(30);

impl<T: Send + 'static> DynamoDbSink<T> {
    /// A missing table, a wrong endpoint or region or bad credentials fail here, at
    /// the start, naming the table and the endpoint.
    async fn check_table(&self, client: &aws_sdk_dynamodb::Client) -> Result<()> {
        let describe = client.describe_table().table_name(&self.table).send();
        aws::call_within(CHECK_TIMEOUT, describe).await.map(drop).map_err(|message| {
            DynamoDbError::Table { table: self.table.clone(), endpoint: aws::endpoint_of(&self.sdk), message }.into()
        })
    }
}

impl<T: Send + 'static> Sink<T> for DynamoDbSink<T> {
    type Committable = ();
    type WriterState = DynamoDbWriteRequest;
    type Writer = AsyncSinkWriter<T, DynamoDbClient>;
    type Committer = NoCommitter<()>;

    async fn create_writer(&self, _ctx: &TaskContext, restored: Vec<DynamoDbWriteRequest>) -> Result<Self::Writer> {
        let client = aws_sdk_dynamodb::Client::new(&self.sdk);
        self.check_table(&client).await?;
        let client =
            Arc::new(DynamoDbClient { client, table: self.table.clone(), overwrite_keys: self.overwrite_keys.clone() });
        let convert = self.convert.clone();
        let convert = move |record: T| convert(record).map_err(Into::into);
        Ok(AsyncSinkWriter::new(self.async_config.clone(), client, convert, restored))
    }

    async fn create_committer(&self, _ctx: &TaskContext) -> Result<NoCommitter<()>> {
        Ok(NoCommitter::default())
    }
}

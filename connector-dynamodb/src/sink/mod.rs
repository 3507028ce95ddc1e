//! The sink: one batching, retrying writer per subtask (connector-base's
//! [`AsyncSinkWriter`]); buffered requests are part of the checkpoint.

mod client;

pub use client::DynamoDbClient;

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use connector_base::async_sink::AsyncSinkWriter;
use stream_core::Result;
use stream_core::api::{NoCommitter, Sink, TaskContext};

use crate::config::DynamoDbSink;
use crate::error::DynamoDbError;
use crate::request::DynamoDbWriteRequest;

/// How long the table check at start may take.
const CHECK_TIMEOUT: Duration = Duration::from_secs(30);

impl<T: Send + 'static> DynamoDbSink<T> {
    /// Where the SDK config points, for error messages.
    fn endpoint(&self) -> String {
        match (self.sdk.endpoint_url(), self.sdk.region()) {
            (Some(url), _) => url.to_string(),
            (None, Some(region)) => format!("region {region}"),
            (None, None) => "no region (set one in the SdkConfig)".to_string(),
        }
    }

    /// A missing table, a wrong endpoint or region or bad credentials fail here, at
    /// the start, naming the table and the endpoint.
    async fn check_table(&self, client: &aws_sdk_dynamodb::Client) -> Result<()> {
        let described =
            tokio::time::timeout(CHECK_TIMEOUT, client.describe_table().table_name(&self.table).send()).await;
        let message = match described {
            Ok(Ok(_)) => return Ok(()),
            Ok(Err(e)) => match e.as_service_error() {
                Some(service) => {
                    format!("{}: {}", service.code().unwrap_or("Unknown"), service.message().unwrap_or(""))
                }
                None => format!("{e} ({e:?})").chars().take(400).collect(),
            },
            Err(_) => format!("no answer within {CHECK_TIMEOUT:?}"),
        };
        Err(DynamoDbError::Table { table: self.table.clone(), endpoint: self.endpoint(), message }.into())
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

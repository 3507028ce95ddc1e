//! The sink: connector-base's batching, retrying [`AsyncSink`] with a DynamoDB table
//! as its target; buffered requests are part of the checkpoint.
//!
//! [`AsyncSink`]: connector_base::async_sink::AsyncSink

mod client;

pub use client::DynamoDbClient;

use connector_base::DeliveryGuarantee;
use connector_base::async_sink::AsyncSinkTarget;
use connector_base::aws;
use stream_core::Result;
use stream_core::api::TaskContext;

use crate::config::DynamoDbTable;
use crate::request::DynamoDbWriteRequest;

impl<T: Send + 'static> AsyncSinkTarget<T> for DynamoDbTable<T> {
    type Client = DynamoDbClient;

    async fn connect(&self, _ctx: &TaskContext) -> Result<DynamoDbClient> {
        let client = aws_sdk_dynamodb::Client::new(&self.sdk);
        let describe = client.describe_table().table_name(&self.table).send();
        aws::check_exists("DynamoDB table", &self.table, &self.sdk, describe).await?;
        Ok(DynamoDbClient { client, table: self.table.clone(), overwrite_keys: self.overwrite_keys.clone() })
    }

    fn connector_name(&self) -> &'static str {
        "dynamodb"
    }

    fn convert(&self, record: T) -> Result<DynamoDbWriteRequest> {
        (self.convert)(record).map_err(Into::into)
    }

    fn guarantee(&self) -> DeliveryGuarantee {
        self.guarantee
    }
}

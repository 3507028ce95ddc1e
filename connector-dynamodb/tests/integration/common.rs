//! Helpers shared by the connector-dynamodb tests: an SDK config for the test server,
//! fresh tables, reading a table back.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use connector_base::DeliveryGuarantee;
use connector_dynamodb::aws_config::{BehaviorVersion, SdkConfig};
use connector_dynamodb::aws_sdk_dynamodb::Client;
use connector_dynamodb::aws_sdk_dynamodb::config::{Credentials, Region};
use connector_dynamodb::aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};
use connector_dynamodb::{DynamoDbSink, DynamoDbSinkBuilder, DynamoDbWriteRequest};
use connector_testkit::{SinkTarget, TestServer, TestkitError, servers};
use serde::Serialize;

/// An SDK config for `endpoint` with test credentials.
pub async fn sdk(endpoint: &str) -> SdkConfig {
    connector_dynamodb::aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("test", "test", None, None, "tests"))
        .load()
        .await
}

/// The test server's endpoint, or `None` to skip.
pub async fn endpoint() -> Option<String> {
    let _ = tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::from_default_env()).try_init();
    Some(TestServer::discover(&servers::DYNAMODB).await.unwrap()?.endpoint.clone())
}

/// The test server's SDK config, or `None` to skip.
pub async fn server() -> Option<SdkConfig> {
    let _ = tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::from_default_env()).try_init();
    let server = TestServer::discover(&servers::DYNAMODB).await.unwrap()?;
    Some(sdk(&server.endpoint).await)
}

/// A fresh table named after `name` with string partition key `pk`.
pub async fn table(sdk: &SdkConfig, name: &str) -> String {
    let table = format!("{name}-{}-{}", std::process::id(), fastrand::u32(..));
    Client::new(sdk)
        .create_table()
        .table_name(&table)
        .attribute_definitions(
            AttributeDefinition::builder().attribute_name("pk").attribute_type(ScalarAttributeType::S).build().unwrap(),
        )
        .key_schema(KeySchemaElement::builder().attribute_name("pk").key_type(KeyType::Hash).build().unwrap())
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .unwrap();
    table
}

/// Every item of `table` as (pk, id, version).
pub async fn scan(sdk: &SdkConfig, table: &str) -> Vec<(String, u64, u64)> {
    let client = Client::new(sdk);
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let page = client.scan().table_name(table).set_exclusive_start_key(start).send().await.unwrap();
        for item in page.items() {
            let text = |k: &str| match item.get(k) {
                Some(AttributeValue::S(s)) => s.clone(),
                Some(AttributeValue::N(n)) => n.clone(),
                other => panic!("{k}: {other:?}"),
            };
            items.push((text("pk"), text("id").parse().unwrap(), text("version").parse().unwrap()));
        }
        match page.last_evaluated_key() {
            Some(key) => start = Some(key.clone()),
            None => return items,
        }
    }
}

/// The row the tests write.
#[derive(Serialize)]
pub struct Row {
    pub pk: String,
    pub id: u64,
    pub version: u64,
    pub payload: String,
}

/// Record `id` of the sink suite as an item keyed by it.
pub fn row(id: u64) -> DynamoDbWriteRequest {
    DynamoDbWriteRequest::put(&Row { pk: format!("k-{id}"), id, version: 1, payload: format!("record-{id}") }).unwrap()
}

/// The sink suite's target: one item per record id.
pub struct InTable {
    pub sdk: SdkConfig,
    pub table: String,
    pub guarantee: DeliveryGuarantee,
    /// The sink's SDK config, if not `sdk` (one through a fault proxy).
    pub via: Option<SdkConfig>,
    /// Options of the sink beyond the tests' own.
    pub configure: fn(DynamoDbSinkBuilder<u64>) -> DynamoDbSinkBuilder<u64>,
}

impl InTable {
    pub async fn new(guarantee: DeliveryGuarantee) -> Option<std::sync::Arc<InTable>> {
        let sdk = server().await?;
        let table = table(&sdk, "suite").await;
        Some(std::sync::Arc::new(InTable { sdk, table, guarantee, via: None, configure: |b| b }))
    }
}

impl SinkTarget for InTable {
    type Record = u64;
    type Sink = DynamoDbSink<u64>;

    fn guarantee(&self) -> DeliveryGuarantee {
        self.guarantee
    }

    fn record(&self, id: u64) -> u64 {
        id
    }

    fn sink(&self) -> DynamoDbSink<u64> {
        let builder = DynamoDbSinkBuilder::new(self.via.as_ref().unwrap_or(&self.sdk), &self.table, |id| Ok(row(id)))
            .delivery_guarantee(self.guarantee)
            .overwrite_by_partition_keys(["pk"])
            .max_time_in_buffer(std::time::Duration::from_millis(50));
        (self.configure)(builder).build().unwrap()
    }

    async fn read_back(&self) -> Result<Vec<u64>, TestkitError> {
        Ok(scan(&self.sdk, &self.table).await.into_iter().map(|(_, id, _)| id).collect())
    }
}

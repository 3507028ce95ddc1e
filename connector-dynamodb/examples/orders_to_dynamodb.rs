//! Writes 1 000 orders to a fresh DynamoDB table, exactly-once, with every order
//! written twice (an older and a newer version) so that batches repeat keys; then
//! scans the table and checks each order holds its newest version.
//!
//! `cargo xtask services up dynamodb` first (or set `DYNAMODB_ENDPOINT`), then
//! `cargo run -p connector-dynamodb --example orders_to_dynamodb`.

use std::collections::BTreeMap;
use std::time::Duration;

use connector_base::DeliveryGuarantee;
use connector_dynamodb::aws_config::BehaviorVersion;
use connector_dynamodb::aws_sdk_dynamodb::Client;
use connector_dynamodb::aws_sdk_dynamodb::config::{Credentials, Region};
use connector_dynamodb::aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};
use connector_dynamodb::{DynamoDbSinkBuilder, DynamoDbWriteRequest};
use stream_core::prelude::*;

#[derive(serde::Serialize)]
struct Order {
    pk: String,
    version: u64,
}

const ORDERS: u64 = 1_000;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let endpoint = std::env::var("DYNAMODB_ENDPOINT").unwrap_or_else(|_| "http://127.0.0.1:8000".into());
    let sdk = connector_dynamodb::aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(&endpoint)
        .credentials_provider(Credentials::new("example", "example", None, None, "example"))
        .load()
        .await;
    let table = format!("orders-{}", std::process::id());
    Client::new(&sdk)
        .create_table()
        .table_name(&table)
        .attribute_definitions(
            AttributeDefinition::builder().attribute_name("pk").attribute_type(ScalarAttributeType::S).build()?,
        )
        .key_schema(KeySchemaElement::builder().attribute_name("pk").key_type(KeyType::Hash).build()?)
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .map_err(|e| format!("cannot create table {table} at {endpoint} (is DynamoDB Local running?): {e}"))?;

    // Record i is version i of order i % ORDERS: each order is written twice.
    let sink = DynamoDbSinkBuilder::new(&sdk, &table, |i: u64| {
        DynamoDbWriteRequest::put(&Order { pk: format!("order-{}", i % ORDERS), version: i })
    })
    .delivery_guarantee(DeliveryGuarantee::ExactlyOnce)
    .overwrite_by_partition_keys(["pk"])
    .build()?;
    StreamEnvironment::builder()
        .checkpointing(CheckpointConfig::builder().interval(Duration::from_millis(200)).build()?)
        .build()?
        .from_source(CollectionSource::sequence(0..2 * ORDERS), "orders")
        .sink_to(sink, "dynamodb")
        .execute("orders-to-table")
        .await?;

    let mut versions = BTreeMap::new();
    let mut start = None;
    loop {
        let page = Client::new(&sdk).scan().table_name(&table).set_exclusive_start_key(start).send().await?;
        for item in page.items() {
            if let (Some(AttributeValue::S(pk)), Some(AttributeValue::N(v))) = (item.get("pk"), item.get("version")) {
                versions.insert(pk.clone(), v.parse::<u64>()?);
            }
        }
        match page.last_evaluated_key() {
            Some(key) => start = Some(key.clone()),
            None => break,
        }
    }
    let stale = (0..ORDERS).filter(|o| versions.get(&format!("order-{o}")) != Some(&(o + ORDERS))).count();
    println!("table={table} orders={} stale_or_missing={stale}", versions.len());
    if stale > 0 {
        return Err(format!("{stale} orders do not hold their newest version").into());
    }
    Ok(())
}

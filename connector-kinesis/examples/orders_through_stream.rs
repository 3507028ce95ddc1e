//! Writes 2 000 orders into a fresh Kinesis stream with the sink, then reads them back
//! with the source (exactly-once, from the stream's beginning) and checks that every
//! order arrived once.
//!
//! `cargo xtask services up kinesis` first (or set `KINESIS_ENDPOINT`), then
//! `cargo run -p connector-kinesis --example orders_through_stream`.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use connector_base::schema::Utf8Schema;
use connector_kinesis::aws_config::BehaviorVersion;
use connector_kinesis::aws_sdk_kinesis::Client;
use connector_kinesis::aws_sdk_kinesis::config::{Credentials, Region};
use connector_kinesis::aws_sdk_kinesis::types::StreamStatus;
use connector_kinesis::{KinesisStreamsSinkBuilder, KinesisStreamsSource, StartingPosition};
use stream_core::prelude::*;

const ORDERS: u64 = 2_000;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let endpoint = std::env::var("KINESIS_ENDPOINT").unwrap_or_else(|_| "http://127.0.0.1:4568".into());
    let sdk = connector_kinesis::aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(&endpoint)
        .credentials_provider(Credentials::new("example", "example", None, None, "example"))
        .load()
        .await;
    let stream = format!("orders-{}", std::process::id());
    let client = Client::new(&sdk);
    client
        .create_stream()
        .stream_name(&stream)
        .shard_count(4)
        .send()
        .await
        .map_err(|e| format!("cannot create stream {stream} at {endpoint} (is kinesis-local running?): {e}"))?;
    while client
        .describe_stream_summary()
        .stream_name(&stream)
        .send()
        .await?
        .stream_description_summary()
        .map(|d| d.stream_status())
        != Some(&StreamStatus::Active)
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Write: the customer is the partition key, so each customer's orders share a shard.
    let sink = KinesisStreamsSinkBuilder::new(&sdk, &stream, Utf8Schema, |order: &String| {
        order.split(',').next().unwrap_or("unknown").to_string()
    })
    .build()?;
    let orders: Vec<String> = (0..ORDERS).map(|i| format!("customer-{},{i}", i % 50)).collect();
    StreamEnvironment::builder()
        .checkpointing(CheckpointConfig::builder().interval(Duration::from_secs(1)).build()?)
        .build()?
        .from_source(CollectionSource::new(orders), "orders")
        .sink_to(sink, "kinesis")
        .execute("orders-to-kinesis")
        .await?;
    println!("wrote {ORDERS} orders to {stream}");

    // Read back until every order arrived (a Kinesis stream never ends: cancel then).
    let source = KinesisStreamsSource::builder(&sdk, &stream)
        .starting_position(StartingPosition::TrimHorizon)
        .shard_discovery_interval(Duration::from_secs(1))
        .build()?;
    let collect = CollectSink::new();
    let job = StreamEnvironment::builder()
        .checkpointing(CheckpointConfig::builder().interval(Duration::from_millis(200)).build()?)
        .parallelism(2)
        .build()?
        .from_source(source, "kinesis")
        .map(|record| String::from_utf8_lossy(&record.data).into_owned())
        .sink_to(collect.clone(), "collect")
        .start("orders-from-kinesis");
    let deadline = Instant::now() + Duration::from_secs(60);
    while (collect.committed().len() as u64) < ORDERS && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    job.cancel_and_join().await?;

    let read = collect.committed();
    let mut per_customer: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    for order in &read {
        let (customer, n) = order.split_once(',').ok_or("malformed order")?;
        per_customer.entry(customer).or_default().push(n.parse()?);
    }
    let mut all: Vec<u64> = per_customer.values().flatten().copied().collect();
    all.sort();
    all.dedup();
    println!("read {} orders ({} distinct) of {} customers", read.len(), all.len(), per_customer.len());
    if all.len() as u64 != ORDERS || read.len() as u64 != ORDERS {
        return Err(format!("expected {ORDERS} orders once each, read {} ({} distinct)", read.len(), all.len()).into());
    }
    client.delete_stream().stream_name(&stream).send().await?;
    Ok(())
}

//! Writes 1 000 orders exactly-once (upserts by id, from a struct that derives
//! `SerializeRow`) into a fresh table, then reads the table back with the Cassandra
//! source (into a struct that derives `DeserializeRow`) and checks that every order
//! is there once. `CASSANDRA_CONTACT_POINTS` (default `127.0.0.1:9042`); `cargo xtask
//! services up cassandra` starts the kassandra test server (its driver metadata is
//! off here, as it needs, and the read is one split: kassandra cannot select by
//! token range).

use std::time::Duration;

use connector_base::DeliveryGuarantee;
use connector_cassandra::scylla::client::session_builder::SessionBuilder;
use connector_cassandra::{CassandraSink, CassandraSource};
use scylla::{DeserializeRow, SerializeRow};
use stream_core::prelude::*;

const ORDERS: i64 = 1_000;

/// One order; the fields bind the statement's markers and read the columns by name
/// (serde only for the in-memory collecting sink of this example).
#[derive(Debug, Clone, PartialEq, SerializeRow, DeserializeRow, serde::Serialize, serde::Deserialize)]
struct Order {
    id: i64,
    body: String,
}

fn environment() -> stream_core::Result<StreamEnvironment> {
    StreamEnvironment::builder()
        .checkpointing(CheckpointConfig::builder().interval(Duration::from_millis(200)).build()?)
        .parallelism(2)
        .build()
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let contact = std::env::var("CASSANDRA_CONTACT_POINTS").unwrap_or_else(|_| "127.0.0.1:9042".into());
    let contact = contact.split(',').next().unwrap_or_default().to_string();
    let session = SessionBuilder::new()
        .known_node(&contact)
        .fetch_schema_metadata(false)
        .refresh_metadata_on_auto_schema_agreement(false)
        .build()
        .await?;
    let replication = "{'class': 'SimpleStrategy', 'replication_factor': 1}";
    session.query_unpaged(format!("CREATE KEYSPACE IF NOT EXISTS shop WITH replication = {replication}"), &[]).await?;
    let table = format!("orders_{}", std::process::id());
    session.query_unpaged(format!("CREATE TABLE shop.{table} (id bigint PRIMARY KEY, body text)"), &[]).await?;

    let statement = format!("INSERT INTO shop.{table} (id, body) VALUES (?, ?)");
    let sink = CassandraSink::<Order>::builder([contact.clone()], statement)
        .delivery_guarantee(DeliveryGuarantee::ExactlyOnce)
        .cluster_metadata(false)
        .build()?;
    let orders: Vec<Order> = (0..ORDERS).map(|id| Order { id, body: format!("order {id}") }).collect();
    environment()?
        .from_source(CollectionSource::new(orders), "orders")
        .sink_to(sink, "cassandra")
        .execute("write")
        .await?;

    let source = CassandraSource::<Order>::builder([contact], format!("SELECT id, body FROM shop.{table}"))
        .splits(1)
        .cluster_metadata(false)
        .build()?;
    let read = CollectSink::new();
    environment()?.from_source(source, "cassandra").sink_to(read.clone(), "read").execute("read").await?;

    let rows = read.committed();
    let right = rows.iter().filter(|order| order.body == format!("order {}", order.id)).count();
    let mut ids: Vec<i64> = rows.iter().map(|order| order.id).collect();
    ids.sort();
    ids.dedup();
    if rows.len() != ORDERS as usize || ids.len() != rows.len() || right != rows.len() {
        return Err(format!("{} rows read, {} distinct, {right} right, of {ORDERS}", rows.len(), ids.len()).into());
    }
    println!("{ORDERS} orders written to shop.{table} and read back by the source, each once");
    Ok(())
}

//! Writes 1 000 orders exactly-once (upserts by id) into a fresh table, then reads
//! the table back and checks that every order is there once. `CASSANDRA_CONTACT_POINTS`
//! (default `127.0.0.1:9042`); `cargo xtask services up cassandra` starts the kassandra
//! test server (its driver metadata is off here, as it needs).

use std::time::Duration;

use connector_base::DeliveryGuarantee;
use connector_cassandra::CassandraSink;
use connector_cassandra::scylla::client::session_builder::SessionBuilder;
use futures::TryStreamExt;
use stream_core::prelude::*;

const ORDERS: i64 = 1_000;

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
    let sink = CassandraSink::<(i64, String)>::builder([contact.clone()], statement)
        .delivery_guarantee(DeliveryGuarantee::ExactlyOnce)
        .cluster_metadata(false)
        .build()?;
    let orders: Vec<(i64, String)> = (0..ORDERS).map(|id| (id, format!("order {id}"))).collect();
    StreamEnvironment::builder()
        .checkpointing(CheckpointConfig::builder().interval(Duration::from_millis(200)).build()?)
        .parallelism(2)
        .build()?
        .from_source(CollectionSource::new(orders), "orders")
        .sink_to(sink, "cassandra")
        .execute("orders-to-table")
        .await?;

    let rows: Vec<(i64, String)> = session
        .query_iter(format!("SELECT id, body FROM shop.{table}"), &[])
        .await?
        .rows_stream::<(i64, String)>()?
        .try_collect()
        .await?;
    let right = rows.iter().filter(|(id, body)| *body == format!("order {id}")).count();
    if rows.len() != ORDERS as usize || right != rows.len() {
        return Err(format!("{} rows, {right} right, of {ORDERS}", rows.len()).into());
    }
    println!("{ORDERS} orders written to shop.{table}, each once");
    Ok(())
}

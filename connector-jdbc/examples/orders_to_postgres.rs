//! Writes 2 000 orders exactly-once into a fresh PostgreSQL table through two-phase
//! commit (plain inserts: any replay would show as a second row), then reads the table
//! back with a second job, a `JdbcSource` split into ranges of `id`, and checks each
//! order is there once. `POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`); `cargo xtask services up postgres`
//! starts the test server.

use std::time::Duration;

use connector_jdbc::{DeliveryGuarantee, JdbcSinkBuilder, JdbcSourceBuilder, PgConnection, params};
use stream_core::prelude::*;

const ORDERS: i64 = 2_000;

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct Order {
    id: i64,
    item: String,
    quantity: i32,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let table = format!("orders_{}", std::process::id());
    let connection = PgConnection::new(&url);
    connection
        .connect()
        .await?
        .batch_execute(&format!("CREATE TABLE {table} (id bigint, item text, quantity int)"))
        .await?;
    let statement = format!("INSERT INTO {table} (id, item, quantity) VALUES ($1, $2, $3)");
    let sink =
        JdbcSinkBuilder::new(connection.clone(), statement, |o: &Order| params![o.id, o.item.clone(), o.quantity])
            .delivery_guarantee(DeliveryGuarantee::ExactlyOnce)
            .transaction_prefix(format!("orders-example-{}", std::process::id()))
            .build()?;
    let orders: Vec<Order> =
        (0..ORDERS).map(|id| Order { id, item: format!("item {}", id % 7), quantity: (id % 5) as i32 + 1 }).collect();
    StreamEnvironment::builder()
        .checkpointing(CheckpointConfig::builder().interval(Duration::from_millis(200)).build()?)
        .parallelism(2)
        .build()?
        .from_source(CollectionSource::new(orders), "orders")
        .sink_to(sink, "postgres")
        .execute("orders-to-postgres")
        .await?;

    let decode = |row: &connector_jdbc::tokio_postgres::Row| -> Result<Order, connector_jdbc::tokio_postgres::Error> {
        Ok(Order { id: row.try_get("id")?, item: row.try_get("item")?, quantity: row.try_get("quantity")? })
    };
    let source = JdbcSourceBuilder::new(connection, table.as_str(), "id", decode).splits(8).build()?;
    let read = CollectSink::new();
    StreamEnvironment::builder()
        .parallelism(2)
        .build()?
        .from_source(source, "orders-table")
        .sink_to(read.clone(), "collect")
        .execute("postgres-to-check")
        .await?;
    let mut ids: Vec<i64> = read.committed().iter().map(|order| order.id).collect();
    ids.sort_unstable();
    if ids != (0..ORDERS).collect::<Vec<_>>() {
        return Err(format!("{table}: read back {} rows, expected the ids 0..{ORDERS} once each", ids.len()).into());
    }
    println!("{table}: {ORDERS} orders written exactly-once, read back by JdbcSource, each once");
    Ok(())
}

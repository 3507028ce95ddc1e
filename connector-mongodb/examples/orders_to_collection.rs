//! Writes 500 orders exactly-once (upserts by `_id` of a serde struct) into a fresh
//! collection, then reads the collection back and checks each order is there once.
//! `MONGODB_URI` (default `mongodb://127.0.0.1:27017/?directConnection=true`); `cargo
//! xtask services up mongodb` starts the mongoeco test server.

use std::time::Duration;

use connector_base::DeliveryGuarantee;
use connector_mongodb::mongodb::Client;
use connector_mongodb::mongodb::bson::{Document, doc};
use connector_mongodb::{MongoConnection, MongoSinkBuilder, MongoWrite};
use futures::TryStreamExt;
use stream_core::prelude::*;

const ORDERS: i64 = 500;

/// One order; `_id` makes the write an upsert by id, so a replay changes nothing.
#[derive(Debug, Clone, serde::Serialize)]
struct Order {
    #[serde(rename = "_id")]
    id: i64,
    item: String,
    quantity: i32,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let uri =
        std::env::var("MONGODB_URI").unwrap_or_else(|_| "mongodb://127.0.0.1:27017/?directConnection=true".into());
    let collection = format!("orders_{}", std::process::id());
    let sink = MongoSinkBuilder::new(MongoConnection::new(&uri), "shop", &collection, |order: Order| {
        MongoWrite::replace_by_id_serde(&order)
    })
    .delivery_guarantee(DeliveryGuarantee::ExactlyOnce)
    .build()?;
    let orders: Vec<Order> =
        (0..ORDERS).map(|id| Order { id, item: format!("item {}", id % 7), quantity: (id % 5) as i32 + 1 }).collect();
    StreamEnvironment::builder()
        .checkpointing(CheckpointConfig::builder().interval(Duration::from_millis(500)).build()?)
        .parallelism(2)
        .build()?
        .from_source(CollectionSource::new(orders), "orders")
        .sink_to(sink, "mongodb")
        .execute("orders-to-collection")
        .await?;

    let stored: Vec<Document> = Client::with_uri_str(&uri)
        .await?
        .database("shop")
        .collection::<Document>(&collection)
        .find(doc! {})
        .batch_size(100)
        .await?
        .try_collect()
        .await?;
    let right = stored
        .iter()
        .filter(|d| d.get_i64("_id").is_ok_and(|id| d.get_str("item") == Ok(&format!("item {}", id % 7))))
        .count();
    if stored.len() != ORDERS as usize || right != stored.len() {
        return Err(format!("{} documents, {right} right, of {ORDERS}", stored.len()).into());
    }
    println!("{ORDERS} orders written to shop.{collection}, each once");
    Ok(())
}

//! 1 000 orders into an OpenSearch index whose mapping takes `total` as a number;
//! every 50th order carries a total the mapping refuses. The good orders land, each
//! refused one goes to a dead-letter list (`FailurePolicy::handle`) with the server's
//! reason, and the index is read back.
//!
//! `cargo xtask services up opensearch`, then
//! `cargo run -p connector-opensearch --example orders_to_opensearch`
//! (`OPENSEARCH_URL` points it elsewhere).

use std::sync::{Arc, Mutex};

use connector_opensearch::{Action, FailurePolicy, OpenSearch, OpenSearchSinkBuilder, RejectedAction};
use connector_testkit::search;
use serde_json::json;
use stream_core::prelude::*;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("OPENSEARCH_URL").unwrap_or_else(|_| "http://127.0.0.1:9201".into());
    let index = format!("orders-{}", std::process::id());
    let transport = search::transport::<OpenSearch>(&url)?;
    search::create_index(&transport, &index, Some(json!({"properties": {"total": {"type": "double"}}}))).await?;

    let orders: Vec<u64> = (0..1_000).collect();
    let emitter = {
        let index = index.clone();
        move |id: &u64| {
            let total = if id.is_multiple_of(50) { json!("unknown") } else { json!(*id as f64 * 1.25) };
            Ok(Action::index(index.as_str(), &json!({ "id": id, "total": total }))?.id(id.to_string()))
        }
    };
    let dead_letters: Arc<Mutex<Vec<RejectedAction>>> = Arc::default();
    let into = dead_letters.clone();
    let policy = FailurePolicy::handle(move |refused| into.lock().unwrap_or_else(|p| p.into_inner()).push(refused));
    let sink = OpenSearchSinkBuilder::new([url.as_str()], emitter).failure_policy(policy).build()?;
    StreamEnvironment::builder()
        .build()?
        .from_source(CollectionSource::new(orders), "orders")
        .sink_to(sink, "opensearch")
        .execute("orders-to-opensearch")
        .await?;

    let documents = search::all_documents(&transport, &index).await?;
    let dead_letters = dead_letters.lock().unwrap_or_else(|p| p.into_inner());
    println!("{} orders in `{index}`, {} in the dead-letter list", documents.len(), dead_letters.len());
    if let Some(first) = dead_letters.first() {
        let id = first.action.document_id().unwrap_or("?");
        println!("for example order {id}: {} {}: {}", first.status, first.error_type, first.reason);
    }
    Ok(())
}

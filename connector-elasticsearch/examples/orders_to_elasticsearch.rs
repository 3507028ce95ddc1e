//! 1 000 orders into an Elasticsearch index, exactly-once with their ids as document
//! ids, with the job crashing once half way (it restarts from its last checkpoint and
//! replays); the index is read back: 1 000 documents, none twice.
//!
//! `cargo xtask services up elasticsearch`, then
//! `cargo run -p connector-elasticsearch --example orders_to_elasticsearch`
//! (`ELASTICSEARCH_URL` points it elsewhere).

use std::time::Duration;

use connector_base::DeliveryGuarantee;
use connector_elasticsearch::{Action, Elasticsearch, ElasticsearchSinkBuilder};
use connector_testkit::search;
use stream_core::fault::{Fault, FaultInjector, FaultPoint};
use stream_core::prelude::*;

#[derive(serde::Serialize, Clone)]
struct Order {
    id: u64,
    customer: String,
    total: f64,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("ELASTICSEARCH_URL").unwrap_or_else(|_| "http://127.0.0.1:9200".into());
    let index = format!("orders-{}", std::process::id());
    let orders: Vec<Order> =
        (0..1_000).map(|id| Order { id, customer: format!("c-{}", id % 37), total: id as f64 * 1.25 }).collect();

    let emitter = {
        let index = index.clone();
        move |o: &Order| Ok(Action::index(index.as_str(), o)?.id(o.id.to_string()))
    };
    let sink = ElasticsearchSinkBuilder::new([url.as_str()], emitter)
        .delivery_guarantee(DeliveryGuarantee::ExactlyOnce)
        .max_batch_size(100)
        .build()?;
    // One crash of the source after 600 orders: the job restarts from its last
    // checkpoint and sends some orders again.
    let faults = FaultInjector::new();
    faults.plant(Fault::new("orders", FaultPoint::AfterRecords(600)));
    let result = StreamEnvironment::builder()
        .checkpointing(CheckpointConfig::builder().interval(Duration::from_millis(100)).build()?)
        .restart_strategy(RestartStrategy::fixed_delay(3, Duration::from_millis(100)))
        .fault_injector(faults)
        .build()?
        .from_source(CollectionSource::new(orders).records_per_second(5_000.0)?, "orders")
        .sink_to(sink, "elasticsearch")
        .execute("orders-to-elasticsearch")
        .await?;

    let transport = search::transport::<Elasticsearch>(&url)?;
    let documents = search::all_documents(&transport, &index).await?;
    let mut ids: Vec<&str> = documents.iter().map(|(id, _)| id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    println!(
        "{} documents in `{index}` ({} distinct ids) after {} restart(s)",
        documents.len(),
        ids.len(),
        result.restarts
    );
    Ok(())
}

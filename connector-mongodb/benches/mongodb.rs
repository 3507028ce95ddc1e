//! `cargo xtask bench mongodb`: our sink against a raw loop of unordered `insert_many`
//! of the same batches (1 000 documents, 4 in flight, as the sink's defaults), and our
//! source against a raw `find` cursor over the same collection, on the same server in
//! the same run (`MONGODB_URI`, or the mongoeco that `cargo xtask bench mongodb`
//! starts). Prints `mongodb sink_ratio=<r> source_ratio=<r>` (medians of
//! `BENCH_ROUNDS`, default 3; the two sides back to back, in an order that alternates
//! between rounds). `BENCH_RECORDS` (default 3 000: mongoeco writes a few hundred
//! documents a second).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use connector_mongodb::mongodb::bson::{Document, doc};
use connector_mongodb::mongodb::{Client, Collection};
use connector_mongodb::{MongoConnection, MongoSinkBuilder, MongoSourceBuilder, MongoWrite, SplitStrategy};
use connector_testkit::bench;
use futures::TryStreamExt;
use stream_core::prelude::*;

const DATABASE: &str = "bench";
const BATCH: u64 = 1_000;
const IN_FLIGHT: usize = 4;

fn document(i: u64) -> Document {
    doc! { "_id": i as i64, "body": format!("{i:012} the quick brown fox jumps over the lazy dog") }
}

fn fresh(client: &Client, name: &str) -> Collection<Document> {
    client.database(DATABASE).collection(&format!("{name}_{}_{}", std::process::id(), fastrand::u32(..)))
}

/// Documents/s of raw unordered `insert_many` batches.
async fn raw_sink(collection: Collection<Document>, n: u64) -> f64 {
    bench::raw_batches(n, BATCH, IN_FLIGHT, move |range| {
        let collection = collection.clone();
        async move {
            collection.insert_many(range.map(document)).ordered(false).await.unwrap();
        }
    })
    .await
}

/// Documents/s of our sink in a job (parallelism 1, checkpoints every second).
async fn our_sink(uri: &str, collection: &str, n: u64) -> f64 {
    let sink = MongoSinkBuilder::new(MongoConnection::new(uri), DATABASE, collection, |i: u64| {
        Ok(MongoWrite::insert(document(i)))
    })
    .max_batch_size(BATCH as usize)
    .max_in_flight_requests(IN_FLIGHT)
    .build()
    .unwrap();
    bench::bounded_job_rate(&bench::job_env(Duration::from_secs(1)), CollectionSource::from_fn(n, |i| i), sink, n).await
}

/// Documents/s of a raw cursor over `collection`.
async fn raw_source(collection: Collection<Document>, n: u64) -> f64 {
    let started = Instant::now();
    let documents: Vec<Document> =
        collection.find(doc! {}).batch_size(BATCH as u32).await.unwrap().try_collect().await.unwrap();
    assert_eq!(documents.len() as u64, n);
    n as f64 / started.elapsed().as_secs_f64()
}

/// Documents/s of our source (one split, pages of 1 000) in a job.
async fn our_source(uri: &str, collection: &str, n: u64) -> f64 {
    let source = MongoSourceBuilder::<Document>::new(MongoConnection::new(uri), DATABASE, collection)
        .split_strategy(SplitStrategy::Single)
        .page_size(BATCH as u32)
        .build()
        .unwrap();
    bench::bounded_job_rate(&bench::job_env(Duration::from_secs(1)), source, DiscardingSink::new(), n).await
}

fn main() {
    let uri = bench::endpoint("MONGODB_URI", "mongodb");
    let n = bench::records(3_000);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let (mut sink_ratios, mut source_ratios) = (Vec::new(), Vec::new());
    runtime.block_on(async {
        let client = Client::with_uri_str(&uri).await.unwrap();
        for round in 0..bench::rounds(3) {
            let (raw_collection, ours_collection) = (fresh(&client, "raw"), fresh(&client, "ours"));
            let ours_name = ours_collection.name().to_string();
            let (raw_rate, our_rate) =
                bench::pair(round, raw_sink(raw_collection.clone(), n), our_sink(&uri, &ours_name, n)).await;
            eprintln!("round {round}: sink raw {raw_rate:.0} docs/s, ours {our_rate:.0} docs/s ({n} documents)");
            sink_ratios.push(our_rate / raw_rate);
            let raw_name = raw_collection.name().to_string();
            let (raw_rate, our_rate) =
                bench::pair(round, raw_source(raw_collection, n), our_source(&uri, &raw_name, n)).await;
            eprintln!("round {round}: source raw {raw_rate:.0} docs/s, ours {our_rate:.0} docs/s");
            source_ratios.push(our_rate / raw_rate);
        }
    });
    let (sink, source) = (bench::median(&mut sink_ratios), bench::median(&mut source_ratios));
    println!("mongodb sink_ratio={sink:.2} source_ratio={source:.2}");
}

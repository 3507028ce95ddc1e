//! `cargo xtask bench mongodb`: our sink against a raw loop of unordered `insert_many`
//! of the same batches (1 000 documents, 4 in flight, as the sink's defaults), and our
//! source against a raw `find` cursor over the same collection, on the same server in
//! the same run (`MONGODB_URI`, or the mongoeco that `cargo xtask bench mongodb`
//! starts). Prints `mongodb sink_ratio=<r> source_ratio=<r>` (medians of
//! `BENCH_ROUNDS`, default 3; the two sides back to back, in an order that alternates
//! between rounds). `BENCH_RECORDS` (default 3 000: mongoeco writes about 100
//! documents a second here) documents per sink round and in the source's collection.
//! The source reads wide documents (200 fields, as rows of many columns), so that
//! what it measures is reading, not the start of a job (about 0.1 s, connecting,
//! checking the collection and splitting; mongoeco sends small documents at 60 000
//! a second, so 3 000 of them take 0.05 s raw). Both sides' times include
//! connecting.
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

/// Fields of a document the source benchmark reads.
const WIDE_FIELDS: u64 = 200;

fn wide_document(i: u64) -> Document {
    let mut document = doc! { "_id": i as i64 };
    for field in 0..WIDE_FIELDS {
        document.insert(format!("f{field}"), (i * field) as i64);
    }
    document
}

/// Insert the documents of `range`, sending the batch again after a transient failure
/// (a busy server's monitor timeout clears the pool) until every document is there.
async fn insert_batch(collection: Collection<Document>, range: std::ops::Range<u64>, make: fn(u64) -> Document) {
    use connector_mongodb::mongodb::error::ErrorKind;
    loop {
        let error = match collection.insert_many(range.clone().map(make)).ordered(false).await {
            Ok(_) => return,
            Err(error) => error,
        };
        // Duplicates are documents an earlier attempt wrote.
        if let ErrorKind::InsertMany(failure) = error.kind.as_ref()
            && failure.write_errors.iter().flatten().all(|e| e.code == 11000)
            && failure.write_concern_error.is_none()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Documents/s of raw unordered `insert_many` batches.
async fn raw_sink(collection: Collection<Document>, n: u64) -> f64 {
    bench::raw_batches(n, BATCH, IN_FLIGHT, move |range| insert_batch(collection.clone(), range, document)).await
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

/// Documents/s of a raw cursor over `collection`, from connecting.
async fn raw_source(uri: String, collection: String, n: u64) -> f64 {
    let started = Instant::now();
    let client = Client::with_uri_str(&uri).await.unwrap();
    let collection: Collection<Document> = client.database(DATABASE).collection(&collection);
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
        }
        let wide = fresh(&client, "wide");
        for start in (0..n).step_by(BATCH as usize) {
            insert_batch(wide.clone(), start..(start + BATCH).min(n), wide_document).await;
        }
        let (source_n, read) = (n, wide.name().to_string());
        for round in 0..bench::rounds(3) {
            let (raw_rate, our_rate) =
                bench::pair(round, raw_source(uri.clone(), read.clone(), source_n), our_source(&uri, &read, source_n))
                    .await;
            eprintln!(
                "round {round}: source raw {raw_rate:.0} docs/s, ours {our_rate:.0} docs/s ({source_n} documents)"
            );
            source_ratios.push(our_rate / raw_rate);
        }
    });
    let (sink, source) = (bench::figure("sink_ratio", &sink_ratios), bench::figure("source_ratio", &source_ratios));
    println!("mongodb {sink} {source}");
}

//! `cargo xtask bench aws` (Kinesis part): our sink (at-least-once, batches of 500, its
//! default 50 requests in flight) against a raw aws-sdk `PutRecords` loop with the same
//! batch size and concurrency, on the same server in the same run (kinesis-local from
//! `cargo xtask services`, or `KINESIS_ENDPOINT`), each round on a fresh 16-shard
//! stream. Prints `aws kinesis_sink_ratio=<r>` (median of 3 rounds). `BENCH_RECORDS`
//! (default 20 000; kinesis-local slows down past a few thousand records per shard)
//! changes the run.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

#[path = "../tests/integration/common.rs"]
mod common;

use connector_base::schema::Utf8Schema;
use connector_kinesis::KinesisStreamsSinkBuilder;
use connector_kinesis::aws_config::SdkConfig;
use connector_kinesis::aws_sdk_kinesis::Client;
use connector_kinesis::aws_sdk_kinesis::primitives::Blob;
use connector_kinesis::aws_sdk_kinesis::types::PutRecordsRequestEntry;
use connector_testkit::bench;
use stream_core::prelude::*;

const DEFAULT_RECORDS: u64 = 20_000;
const BATCH: u64 = 500;
const IN_FLIGHT: usize = 50;
const SHARDS: i32 = 16;

fn record(i: u64) -> String {
    format!("record-{i:012} the quick brown fox jumps over the lazy dog")
}

fn key(i: u64) -> String {
    format!("k{}", i % 1024)
}

/// Records/s of a plain loop: batches of 500, at most 50 in flight, failed entries
/// sent again.
async fn raw(sdk: &SdkConfig, stream: &str, n: u64) -> f64 {
    let client = Client::new(sdk);
    bench::raw_batches(n, BATCH, IN_FLIGHT, |batch| {
        let (client, stream) = (client.clone(), stream.to_string());
        let mut entries: Vec<PutRecordsRequestEntry> = batch
            .map(|j| {
                PutRecordsRequestEntry::builder().partition_key(key(j)).data(Blob::new(record(j))).build().unwrap()
            })
            .collect();
        async move {
            while !entries.is_empty() {
                let out = client.put_records().stream_name(&stream).set_records(Some(entries.clone())).send().await;
                let out = out.unwrap();
                entries = entries
                    .into_iter()
                    .zip(out.records())
                    .filter(|(_, r)| r.error_code().is_some())
                    .map(|(e, _)| e)
                    .collect();
            }
        }
    })
    .await
}

/// Records/s of our sink writing the same records (its defaults).
async fn ours(sdk: &SdkConfig, stream: &str, n: u64) -> f64 {
    let sink = KinesisStreamsSinkBuilder::new(sdk, stream, Utf8Schema, |r: &String| {
        key(r.get(7..19).and_then(|d| d.parse().ok()).unwrap_or(0))
    })
    .build()
    .unwrap();
    let started = Instant::now();
    StreamEnvironment::builder()
        .checkpointing(CheckpointConfig::builder().interval(Duration::from_secs(1)).build().unwrap())
        .build()
        .unwrap()
        .from_source(CollectionSource::sequence(0..n), "records")
        .map(record)
        .sink_to(sink, "kinesis")
        .execute("bench-kinesis")
        .await
        .unwrap();
    n as f64 / started.elapsed().as_secs_f64()
}

fn main() {
    let endpoint = bench::endpoint("KINESIS_ENDPOINT", "kinesis");
    let n = bench::records(DEFAULT_RECORDS);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let mut ratios = Vec::new();
    runtime.block_on(async {
        let sdk = common::sdk(&endpoint).await;
        // kinesis-local keeps every stream in memory and slows down as they grow: each
        // run gets a fresh stream, deleted after it.
        let fresh = |name: &'static str| common::stream(&sdk, name, SHARDS);
        let client = Client::new(&sdk);
        let delete = |stream: String| {
            let client = client.clone();
            async move { client.delete_stream().stream_name(stream).send().await.unwrap() }
        };
        let warm_up = fresh("warm-up").await;
        raw(&sdk, &warm_up, n / 4).await;
        delete(warm_up).await;
        for round in 0..3 {
            let stream = fresh("raw").await;
            let raw_rate = raw(&sdk, &stream, n).await;
            delete(stream).await;
            let stream = fresh("ours").await;
            let our_rate = ours(&sdk, &stream, n).await;
            delete(stream).await;
            eprintln!("round {round}: raw {raw_rate:.0}/s ours {our_rate:.0}/s ({n} records)");
            ratios.push(our_rate / raw_rate);
        }
    });
    println!("aws {}", bench::figure("kinesis_sink_ratio", &ratios));
}

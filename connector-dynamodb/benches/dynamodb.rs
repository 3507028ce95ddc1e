//! `cargo xtask bench aws` (DynamoDB part): our sink (at-least-once, batches of 25, 4 in
//! flight) against a raw aws-sdk `BatchWriteItem` loop with the same batch size and
//! concurrency, on the same server in the same run (DynamoDB Local from
//! `cargo xtask services`, or `DYNAMODB_ENDPOINT`). Prints `aws dynamodb_sink_ratio=<r>`
//! (median of 3 rounds). `BENCH_RECORDS` (default 20 000; DynamoDB Local writes a few
//! thousand items per second) changes the run.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

#[path = "../tests/integration/common.rs"]
mod common;

use common::table;
use connector_dynamodb::aws_config::SdkConfig;
use connector_dynamodb::aws_sdk_dynamodb::Client;
use connector_dynamodb::aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use connector_dynamodb::{DynamoDbSinkBuilder, DynamoDbWriteRequest};
use connector_testkit::bench;
use stream_core::prelude::*;

const DEFAULT_RECORDS: u64 = 20_000;
const BATCH: u64 = 25;
const IN_FLIGHT: usize = 4;

#[derive(serde::Serialize)]
struct Row {
    pk: String,
    payload: String,
}

fn row(i: u64) -> Row {
    Row { pk: format!("k-{i:012}"), payload: format!("{i:012} the quick brown fox jumps over the lazy dog") }
}

/// Items/s of a plain loop: batches of 25, at most 4 in flight, unprocessed items
/// sent again.
async fn raw(sdk: &SdkConfig, table: &str, n: u64) -> f64 {
    let client = Client::new(sdk);
    bench::raw_batches(n, BATCH, IN_FLIGHT, |batch| {
        let (client, table) = (client.clone(), table.to_string());
        let mut requests: Vec<WriteRequest> = batch
            .map(|j| {
                let r = row(j);
                let item = [
                    ("pk".to_string(), AttributeValue::S(r.pk)),
                    ("payload".to_string(), AttributeValue::S(r.payload)),
                ];
                let put = PutRequest::builder().set_item(Some(item.into_iter().collect())).build().unwrap();
                WriteRequest::builder().put_request(put).build()
            })
            .collect();
        async move {
            while !requests.is_empty() {
                let out = client.batch_write_item().request_items(&table, requests).send().await.unwrap();
                requests = out.unprocessed_items().and_then(|m| m.get(&table)).cloned().unwrap_or_default();
            }
        }
    })
    .await
}

/// Items/s of our sink writing the same rows (at-least-once, its defaults).
async fn ours(sdk: &SdkConfig, table: &str, n: u64) -> f64 {
    let sink = DynamoDbSinkBuilder::new(sdk, table, |i: u64| DynamoDbWriteRequest::put(&row(i))).build().unwrap();
    let started = Instant::now();
    StreamEnvironment::builder()
        .checkpointing(CheckpointConfig::builder().interval(Duration::from_secs(1)).build().unwrap())
        .build()
        .unwrap()
        .from_source(CollectionSource::sequence(0..n), "rows")
        .sink_to(sink, "dynamodb")
        .execute("bench-dynamodb")
        .await
        .unwrap();
    n as f64 / started.elapsed().as_secs_f64()
}

fn main() {
    let endpoint = bench::endpoint("DYNAMODB_ENDPOINT", "dynamodb");
    let n = bench::records(DEFAULT_RECORDS);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let mut ratios = Vec::new();
    runtime.block_on(async {
        let sdk = common::sdk(&endpoint).await;
        // Warm DynamoDB Local's JVM up before measuring.
        raw(&sdk, &table(&sdk, "warm-up").await, n / 4).await;
        for round in 0..3 {
            let raw_rate = raw(&sdk, &table(&sdk, "raw").await, n).await;
            let our_rate = ours(&sdk, &table(&sdk, "ours").await, n).await;
            eprintln!("round {round}: raw {raw_rate:.0}/s ours {our_rate:.0}/s ({n} items)");
            ratios.push(our_rate / raw_rate);
        }
    });
    println!("aws {}", bench::figure("dynamodb_sink_ratio", &ratios));
}

//! `cargo xtask bench aws` (Firehose part): our sink (at-least-once, batches of 500, its
//! default 50 requests in flight) against a raw aws-sdk `PutRecordBatch` loop with the
//! same batch size and concurrency, on the same server in the same run (moto's
//! Firehose with an S3 destination from `cargo xtask services`, or `FIREHOSE_ENDPOINT`
//! and `S3_ENDPOINT`), each run on a fresh delivery stream. Prints
//! `aws firehose_sink_ratio=<r>` (median of 3 rounds, `BENCH_ROUNDS`); `BENCH_RECORDS`
//! (default 20 000) changes the run.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

#[path = "../tests/integration/common.rs"]
mod common;

use connector_base::schema::Utf8Schema;
use connector_firehose::FirehoseSinkBuilder;
use connector_firehose::aws_config::SdkConfig;
use connector_firehose::aws_sdk_firehose::Client;
use connector_firehose::aws_sdk_firehose::primitives::Blob;
use connector_firehose::aws_sdk_firehose::types::Record;
use connector_testkit::bench;
use stream_core::prelude::*;

const DEFAULT_RECORDS: u64 = 20_000;
const BATCH: u64 = 500;
const IN_FLIGHT: usize = 50;

fn record(i: u64) -> String {
    format!("record-{i:012} the quick brown fox jumps over the lazy dog\n")
}

/// Records/s of a plain loop: batches of 500, at most 50 in flight, failed records
/// sent again.
async fn raw(sdk: &SdkConfig, stream: &str, n: u64) -> f64 {
    let client = Client::new(sdk);
    bench::raw_batches(n, BATCH, IN_FLIGHT, |batch| {
        let (client, stream) = (client.clone(), stream.to_string());
        let mut records: Vec<Record> =
            batch.map(|j| Record::builder().data(Blob::new(record(j))).build().unwrap()).collect();
        async move {
            while !records.is_empty() {
                let out = client.put_record_batch().delivery_stream_name(&stream).set_records(Some(records.clone()));
                let out = out.send().await.unwrap();
                records = records
                    .into_iter()
                    .zip(out.request_responses())
                    .filter(|(_, r)| r.error_code().is_some())
                    .map(|(r, _)| r)
                    .collect();
            }
        }
    })
    .await
}

/// Records/s of our sink writing the same records (its defaults).
async fn ours(sdk: &SdkConfig, stream: &str, n: u64) -> f64 {
    let sink = FirehoseSinkBuilder::new(sdk, stream, Utf8Schema).build().unwrap();
    let started = Instant::now();
    StreamEnvironment::builder()
        .checkpointing(CheckpointConfig::builder().interval(Duration::from_secs(1)).build().unwrap())
        .build()
        .unwrap()
        .from_source(CollectionSource::sequence(0..n), "records")
        .map(record)
        .sink_to(sink, "firehose")
        .execute("bench-firehose")
        .await
        .unwrap();
    n as f64 / started.elapsed().as_secs_f64()
}

fn main() {
    bench::endpoint("FIREHOSE_ENDPOINT", "aws");
    bench::endpoint("S3_ENDPOINT", "aws");
    let n = bench::records(DEFAULT_RECORDS);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let mut ratios = Vec::new();
    runtime.block_on(async {
        let (sdk, warm_up, _) = common::stream("bench-warm-up").await.unwrap();
        raw(&sdk, &warm_up, n / 4).await;
        for round in 0..bench::rounds(3) {
            let (sdk, raw_stream, _) = common::stream("bench-raw").await.unwrap();
            let (_, our_stream, _) = common::stream("bench-ours").await.unwrap();
            let (raw_rate, our_rate) = bench::pair(round, raw(&sdk, &raw_stream, n), ours(&sdk, &our_stream, n)).await;
            eprintln!("round {round}: raw {raw_rate:.0}/s ours {our_rate:.0}/s ({n} records)");
            ratios.push(our_rate / raw_rate);
        }
    });
    println!("aws {}", bench::figure("firehose_sink_ratio", &ratios));
}

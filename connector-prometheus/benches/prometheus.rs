//! `cargo xtask bench prometheus`: our sink (checkpoints every second) against a raw
//! remote-write loop over `reqwest` (prost messages written here, raw snappy), both
//! sending requests of 500 series of one sample each, one request in flight, on the
//! same server in the same run (`PROMETHEUS_URL`, or the Prometheus that `cargo xtask
//! bench prometheus` starts). Each side and round writes series of its own: 1 000
//! series, samples 1 ms apart. Prints `prometheus sink_ratio=<r>` (median of
//! `BENCH_ROUNDS`, default 3; the sides back to back, in an order that alternates
//! between rounds). `BENCH_RECORDS` (default 200 000) samples per side and round.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use connector_prometheus::{PrometheusSinkBuilder, TimeSeries};
use connector_testkit::bench;
use prost::Message;
use stream_core::prelude::*;

/// Series per request, as the sink's default.
const BATCH: u64 = 500;
/// Series each side writes; sample `i` goes to series `i % SERIES`.
const SERIES: u64 = 1_000;
const METRIC: &str = "flink_connectors_rs_bench_samples";

#[derive(Clone, PartialEq, prost::Message)]
struct WriteRequest {
    #[prost(message, repeated, tag = "1")]
    timeseries: Vec<Series>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct Series {
    #[prost(message, repeated, tag = "1")]
    labels: Vec<Label>,
    #[prost(message, repeated, tag = "2")]
    samples: Vec<Sample>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct Label {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(string, tag = "2")]
    value: String,
}

#[derive(Clone, PartialEq, prost::Message)]
struct Sample {
    #[prost(double, tag = "1")]
    value: f64,
    #[prost(int64, tag = "2")]
    timestamp: i64,
}

/// Where each side writes: a `run` label of its own and a start time.
struct Run {
    name: String,
    base_ms: i64,
}

impl Run {
    fn new(side: &str) -> Run {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
        // Thirty minutes back: inside the head block, room for the samples after.
        Run { name: format!("{side}_{}_{}", std::process::id(), fastrand::u32(..)), base_ms: now - 30 * 60 * 1000 }
    }

    fn series(&self, i: u64) -> String {
        (i % SERIES).to_string()
    }

    fn at(&self, i: u64) -> i64 {
        self.base_ms + (i / SERIES) as i64
    }
}

/// Samples/s of the raw loop: each request encoded, compressed and posted, one at a time.
async fn raw(url: &str, n: u64) -> f64 {
    let run = std::sync::Arc::new(Run::new("raw"));
    let http = reqwest::Client::new();
    let url = format!("{url}/api/v1/write");
    bench::raw_batches(n, BATCH, 1, |ids| {
        let (http, url, run) = (http.clone(), url.clone(), run.clone());
        async move {
            let label = |name: &str, value: String| Label { name: name.to_string(), value };
            let timeseries = ids
                .map(|i| Series {
                    labels: vec![
                        label("__name__", METRIC.to_string()),
                        label("run", run.name.clone()),
                        label("series", run.series(i)),
                    ],
                    samples: vec![Sample { value: i as f64, timestamp: run.at(i) }],
                })
                .collect();
            let body = snap::raw::Encoder::new().compress_vec(&WriteRequest { timeseries }.encode_to_vec()).unwrap();
            let response = http
                .post(&url)
                .header("Content-Encoding", "snappy")
                .header("Content-Type", "application/x-protobuf")
                .header("X-Prometheus-Remote-Write-Version", "0.1.0")
                .body(body)
                .send()
                .await
                .unwrap();
            assert!(response.status().is_success(), "{}", response.text().await.unwrap_or_default());
        }
    })
    .await
}

/// Samples/s of our sink in a job (parallelism 1, checkpoints every second).
async fn ours(url: &str, n: u64) -> f64 {
    let run = Run::new("ours");
    let sink = PrometheusSinkBuilder::new(format!("{url}/api/v1/write"), move |i: u64| {
        TimeSeries::builder(METRIC)
            .label("run", &run.name)
            .label("series", run.series(i))
            .sample(run.at(i), i as f64)
            .build()
    })
    .max_batch_size(BATCH as usize)
    .build()
    .unwrap();
    bench::bounded_job_rate(&bench::job_env(Duration::from_secs(1)), CollectionSource::from_fn(n, |i| i), sink, n).await
}

fn main() {
    let url = bench::endpoint("PROMETHEUS_URL", "prometheus");
    let n = bench::records(200_000);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let mut ratios = Vec::new();
    runtime.block_on(async {
        for round in 0..bench::rounds(3) {
            let (raw_rate, our_rate) = bench::pair(round, raw(&url, n), ours(&url, n)).await;
            eprintln!("round {round}: raw {raw_rate:.0} samples/s, ours {our_rate:.0} ({n} samples)");
            ratios.push(our_rate / raw_rate);
        }
    });
    println!("prometheus {}", bench::figure("sink_ratio", &ratios));
}

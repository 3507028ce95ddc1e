//! `cargo xtask bench elasticsearch` (Elasticsearch part): our sink (at-least-once,
//! its defaults: 1000 actions a bulk request, 4 in flight, checkpoints every second)
//! against a raw bulk loop through the same client with the same batch size and
//! concurrency, on the same server in the same run (noida-db from `cargo xtask
//! services`, or `ELASTICSEARCH_URL`). Prints `elasticsearch sink_ratio=<r>` (median
//! of 3 rounds). `BENCH_RECORDS` (default 50 000) and `BENCH_ROUNDS` change the run.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use connector_elasticsearch::Elasticsearch;
use connector_testkit::bench;

fn main() {
    let url = bench::endpoint("ELASTICSEARCH_URL", "elasticsearch");
    let (n, rounds) = (bench::records(50_000), bench::rounds(3));
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let ratios = runtime.block_on(connector_testkit::search::bench_ratios::<Elasticsearch>(&url, n, rounds));
    println!("elasticsearch {}", bench::figure("sink_ratio", &ratios));
}

//! `cargo xtask bench redis`: our sink writing SETs against a raw pipelined `redis`
//! crate loop writing the same SETs (pipelines of the same size, one in flight), on
//! the same server in the same run (the server from `cargo xtask services`, or
//! `REDIS_URL`). Prints `redis sink_ratio=<r>` (median of 5 rounds, each side's rate
//! over two writes: raw, ours, ours, raw) and, when
//! `redis-benchmark` is on the PATH, its `-P 64 -t set` rate as the ceiling.
//! `BENCH_RECORDS` (default 1 000 000) and `BENCH_ROUNDS` change the run.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use connector_base::DeliveryGuarantee;
use connector_redis::redis;
use connector_redis::{CommandKind, RedisCommand, RedisEndpoint, RedisSinkBuilder};
use connector_testkit::bench;
use stream_core::prelude::*;

const BATCH: usize = 500;

const DEFAULT_RECORDS: u64 = 1_000_000;

/// Single rounds were seen from 0.78 to 1.00 within one run of 3 rounds.
const DEFAULT_ROUNDS: usize = 5;

fn value(i: u64) -> Vec<u8> {
    format!("{i:012} the quick brown fox jumps over the lazy dog").into_bytes()
}

/// SETs/s of a plain pipelined loop (the same batch size, one pipeline in flight,
/// timed from connecting).
async fn raw(url: &str, prefix: &str, n: u64) -> f64 {
    let started = Instant::now();
    let mut conn = redis::Client::open(url).unwrap().get_multiplexed_async_connection().await.unwrap();
    let mut i = 0;
    while i < n {
        let mut pipe = redis::pipe();
        for j in i..(i + BATCH as u64).min(n) {
            pipe.cmd("SET").arg(format!("{prefix}:{j}")).arg(value(j)).ignore();
        }
        let () = pipe.query_async(&mut conn).await.unwrap();
        i += BATCH as u64;
    }
    n as f64 / started.elapsed().as_secs_f64()
}

/// SETs/s of our exactly-once SET sink in a job (parallelism 1, checkpoints every second).
async fn ours(url: &str, prefix: &str, n: u64) -> f64 {
    let p = prefix.to_string();
    let sink = RedisSinkBuilder::new(RedisEndpoint::standalone(url), CommandKind::Set, move |i: u64| {
        RedisCommand::Set { key: format!("{p}:{i}"), value: value(i), ttl_ms: None }
    })
    .delivery_guarantee(DeliveryGuarantee::ExactlyOnce)
    .max_batch_size(BATCH)
    .build()
    .unwrap();
    bench::bounded_job_rate(&bench::job_env(Duration::from_secs(1)), CollectionSource::sequence(0..n), sink, n).await
}

fn flush(url: &str) {
    let mut conn = redis::Client::open(url).unwrap().get_connection().unwrap();
    let () = redis::cmd("FLUSHDB").query(&mut conn).unwrap();
}

/// `redis-benchmark -P 64 -t set` on the same server: requests/s, if installed.
fn ceiling(url: &str) -> Option<String> {
    let host_port = url.trim_start_matches("redis://").split('/').next()?.rsplit('@').next()?.to_string();
    let (host, port) = host_port.split_once(':')?;
    let out = std::process::Command::new("redis-benchmark")
        .args(["-h", host, "-p", port, "-P", "64", "-t", "set", "-n", "500000", "-q"])
        .output()
        .ok()?;
    // The last progress line (after a carriage return) is the result:
    // `SET: 943396.25 requests per second, p50=...`.
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.split(['\r', '\n']).rfind(|l| l.contains("requests per second"))?;
    line.split_whitespace().nth(1).map(str::to_string)
}

fn main() {
    let url = bench::endpoint("REDIS_URL", "redis");
    let n = bench::records(DEFAULT_RECORDS);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let rounds = bench::rounds(DEFAULT_ROUNDS);
    let mut ratios = Vec::new();
    runtime.block_on(async {
        for round in 0..rounds {
            // Raw, ours, ours, raw, each on an empty database: a server that slows as
            // it runs (memory, its allocator) weighs on both sides alike.
            let (r, o) = bench::abba(
                || {
                    flush(&url);
                    raw(&url, "bench-raw", n)
                },
                || {
                    flush(&url);
                    ours(&url, "bench-ours", n)
                },
            )
            .await;
            eprintln!("round {round}: raw pipelined {r:.0} SET/s, our sink {o:.0} SET/s ({n} records)");
            ratios.push(o / r);
        }
    });
    flush(&url);
    let ceiling = ceiling(&url).map(|c| format!(" redis_benchmark_p64_set_per_sec={c}")).unwrap_or_default();
    println!("redis {}{ceiling}", bench::figure("sink_ratio", &ratios));
}

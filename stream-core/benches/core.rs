//! `cargo xtask bench core`: generated u64 -> map -> key_by -> keyed count ->
//! discarding sink (parallelism 2, exactly-once checkpoints every second), against a
//! hand-written single-threaded loop doing the same work, in the same run. Also the
//! throughput drop with checkpoints every 100 ms against none, each job run for a
//! fixed time (`BENCH_SECONDS`, default 10) on an unbounded source, so that many
//! checkpoints fire.
//!
//! And the final checkpoint of a keyed count holding 1,000,000 keys (on a checkpoint
//! directory): its size and the time from its trigger to its completion.
//!
//! Prints: `core records_per_sec=<n> ratio_vs_loop=<r> checkpoint_overhead_pct=<p>
//! checkpoint_mb=<m> checkpoint_ms=<t>`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use rustc_hash::FxHashMap;
use stream_core::prelude::*;

const KEYS: u64 = 1024;

fn records() -> u64 {
    std::env::var("BENCH_RECORDS").ok().and_then(|s| s.parse().ok()).unwrap_or(40_000_000)
}

fn rounds() -> usize {
    std::env::var("BENCH_RUNS").ok().and_then(|s| s.parse().ok()).unwrap_or(7)
}

/// The same work as the job, in one thread.
fn hand_loop(n: u64) -> f64 {
    let started = Instant::now();
    let mut counts: FxHashMap<u64, u64> = FxHashMap::default();
    for x in 0..n {
        let y = black_box(x) * 2 + 1;
        let key = y % KEYS;
        let count = counts.entry(key).or_insert(0);
        *count += 1;
        black_box((key, *count));
    }
    black_box(counts.len());
    n as f64 / started.elapsed().as_secs_f64()
}

/// An environment of parallelism 2 with checkpoints every `interval` (or none).
fn env(interval: Option<Duration>) -> StreamEnvironment {
    let mut checkpoints = CheckpointConfig::builder();
    if let Some(interval) = interval {
        checkpoints = checkpoints.interval(interval);
    }
    StreamEnvironment::builder().checkpointing(checkpoints.build().unwrap()).parallelism(2).build().unwrap()
}

/// The measured job: `numbers` -> map -> key_by -> keyed count -> `sink`.
fn keyed_count(env: &StreamEnvironment, numbers: CollectionSource<u64>, sink: &DiscardingSink) -> stream_core::Job {
    env.from_source(numbers, "generate")
        .map(|x| x * 2 + 1)
        .key_by(|y| y % KEYS)
        .process(
            "count",
            process_fn(|key: &u64, count: &mut u64, _y: u64, out: &mut Collector<(u64, u64)>| {
                *count += 1;
                out.collect((*key, *count));
                Ok(())
            }),
        )
        .sink_to(sink.clone(), "discard")
}

async fn job(n: u64, interval: Option<Duration>) -> f64 {
    let sink = DiscardingSink::new();
    let started = Instant::now();
    keyed_count(&env(interval), CollectionSource::sequence(0..n), &sink).execute("bench-core").await.unwrap();
    let rate = n as f64 / started.elapsed().as_secs_f64();
    assert_eq!(sink.count(), n, "every record must reach the sink");
    rate
}

/// Size (MB) and duration (ms) of the final checkpoint of a keyed count over
/// `keys` distinct keys, stored in a checkpoint directory.
async fn big_state(keys: u64) -> (f64, f64) {
    let dir = tempfile::tempdir().unwrap();
    let env = StreamEnvironment::builder()
        .state_backend(FsStateBackend::new(dir.path()).unwrap())
        .parallelism(2)
        .build()
        .unwrap();
    let result = env
        .from_source(CollectionSource::sequence(0..keys), "generate")
        .key_by(|x: &u64| *x)
        .process(
            "count",
            process_fn(|_key: &u64, count: &mut u64, _x: u64, _out: &mut Collector<u64>| {
                *count += 1;
                Ok(())
            }),
        )
        .sink_to(DiscardingSink::new(), "discard")
        .execute("bench-core-state")
        .await
        .unwrap();
    let metrics = result.metrics;
    (metrics.last_checkpoint_bytes as f64 / 1e6, metrics.last_checkpoint_duration.as_secs_f64() * 1e3)
}

fn seconds() -> f64 {
    std::env::var("BENCH_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(10.0)
}

/// Records per second the keyed-count job writes over `seconds` (after a second of
/// warm-up), on an unbounded source, with checkpoints every `interval` (or none).
async fn timed_job(seconds: f64, interval: Option<Duration>) -> (f64, u64) {
    let env = env(interval);
    let metrics = env.metrics();
    let handle =
        keyed_count(&env, CollectionSource::sequence(0..u64::MAX), &DiscardingSink::new()).start("bench-core-timed");
    let written = || {
        let snapshot = metrics.snapshot();
        snapshot.stages.iter().find(|(stage, _, _)| stage == "discard").map(|(_, input, _)| *input).unwrap_or(0)
    };
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (from, started) = (written(), Instant::now());
    tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
    let rate = (written() - from) as f64 / started.elapsed().as_secs_f64();
    let checkpoints = metrics.snapshot().checkpoints_completed;
    handle.cancel_and_join().await.unwrap();
    if interval.is_some() {
        assert!(checkpoints as f64 >= seconds, "checkpoints must fire during the run: {checkpoints}");
    }
    (rate, checkpoints)
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    let n = records();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    // Each round runs the four measurements back to back; ratios are taken within a
    // round (so a noisy neighbour slows both sides alike) and the median is reported.
    let mut best = 0.0f64;
    let (mut ratios, mut overheads) = (Vec::new(), Vec::new());
    let (mut sizes, mut times) = (Vec::new(), Vec::new());
    for round in 0..rounds() {
        let looped = hand_loop(n);
        let pipeline = runtime.block_on(job(n, Some(Duration::from_secs(1))));
        let (none, _) = runtime.block_on(timed_job(seconds(), None));
        let (frequent, checkpoints) = runtime.block_on(timed_job(seconds(), Some(Duration::from_millis(100))));
        eprintln!(
            "round {round}: loop={looped:.0}/s job(1s)={pipeline:.0}/s timed job(no checkpoints)={none:.0}/s \
             timed job(100ms)={frequent:.0}/s with {checkpoints} checkpoints, overhead {:.1} %",
            (none - frequent) / none * 100.0
        );
        let (mb, ms) = runtime.block_on(big_state(1_000_000));
        eprintln!("round {round}: 1,000,000-key checkpoint {mb:.1} MB in {ms:.0} ms");
        sizes.push(mb);
        times.push(ms);
        best = best.max(pipeline);
        ratios.push(pipeline / looped);
        overheads.push((none - frequent) / none * 100.0);
    }
    println!(
        "core records_per_sec={best:.0} ratio_vs_loop={:.2} checkpoint_overhead_pct={:.1} checkpoint_mb={:.1} checkpoint_ms={:.0}",
        median(&mut ratios),
        median(&mut overheads).max(0.0),
        median(&mut sizes),
        median(&mut times)
    );
}

//! The async I/O operator: order, capacity, timeout, and exactly-once output across
//! crashes with in-flight requests replayed after a restore.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use stream_core::fault::{Fault, FaultInjector, FaultPoint};
use stream_core::prelude::*;

type Lookup = std::pin::Pin<Box<dyn std::future::Future<Output = stream_core::Result<(u64, u64)>> + Send>>;

/// A slow "lookup": sleeps 0-4 ms (varying per input), tracks concurrency.
fn lookup(concurrent: Arc<AtomicUsize>, peak: Arc<AtomicUsize>) -> impl Fn(u64) -> Lookup + Send + Sync + 'static {
    move |x| {
        let (concurrent, peak) = (concurrent.clone(), peak.clone());
        Box::pin(async move {
            let now = concurrent.fetch_add(1, Ordering::SeqCst) + 1;
            peak.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_micros((x * 7919) % 4_000)).await;
            concurrent.fetch_sub(1, Ordering::SeqCst);
            Ok((x, x * 10))
        })
    }
}

fn env(faults: &FaultInjector, parallelism: usize) -> StreamEnvironment {
    StreamEnvironment::builder()
        .checkpointing(CheckpointConfig::builder().interval(Duration::from_millis(20)).build().unwrap())
        .restart_strategy(RestartStrategy::fixed_delay(5, Duration::ZERO))
        .parallelism(parallelism)
        .batch_size(20)
        .fault_injector(faults.clone())
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ordered_mode_keeps_input_order_and_respects_capacity() {
    let (concurrent, peak) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let sink = CollectSink::new();
    let options = AsyncOptions { capacity: 8, ..AsyncOptions::default() };
    env(&FaultInjector::new(), 1)
        .from_source(CollectionSource::sequence(0..2_000), "numbers")
        .async_map("enrich", options, lookup(concurrent, peak.clone()))
        .sink_to(sink.clone(), "sink")
        .execute("ordered")
        .await
        .unwrap();
    let out: Vec<u64> = sink.committed().iter().map(|(x, _)| *x).collect();
    assert!(out == (0..2_000).collect::<Vec<_>>(), "input order ({} results)", out.len());
    let peak = peak.load(Ordering::SeqCst);
    assert!((4..=8).contains(&peak), "in flight at once: {peak} (capacity 8)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unordered_mode_emits_every_result() {
    let sink = CollectSink::new();
    let options = AsyncOptions { capacity: 16, ordered: false, ..AsyncOptions::default() };
    let probes = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    env(&FaultInjector::new(), 1)
        .from_source(CollectionSource::sequence(0..2_000), "numbers")
        .async_map("enrich", options, lookup(probes.0, probes.1))
        .sink_to(sink.clone(), "sink")
        .execute("unordered")
        .await
        .unwrap();
    let out: Vec<(u64, u64)> = sink.committed();
    let in_order = out.windows(2).all(|w| w[0].0 < w[1].0);
    let mut ids: Vec<u64> = out.iter().map(|(x, _)| *x).collect();
    ids.sort_unstable();
    assert!(ids == (0..2_000).collect::<Vec<_>>(), "every result once ({} results)", ids.len());
    assert!(!in_order, "results come as they complete");
    assert!(out.iter().all(|(x, y)| *y == x * 10));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_is_exactly_once_across_crashes_with_in_flight_requests_replayed() {
    let faults = FaultInjector::new();
    faults.plant(Fault::new("enrich", FaultPoint::DuringSnapshot).subtask(0));
    faults.plant(Fault::new("sink", FaultPoint::AfterCheckpointBeforeCommit).subtask(1));
    faults.plant(Fault::new("numbers", FaultPoint::AfterRecords(1_500)).subtask(1));
    let sink = CollectSink::new();
    let options = AsyncOptions { capacity: 32, ..AsyncOptions::default() };
    let probes = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    env(&faults, 2)
        .from_source(CollectionSource::sequence(0..6_000).records_per_second(30_000.0).unwrap(), "numbers")
        .async_map("enrich", options, lookup(probes.0, probes.1))
        .sink_to(sink.clone(), "sink")
        .execute("async-crash")
        .await
        .unwrap();
    assert_eq!(faults.fired().len(), 3);
    let mut counts = vec![0usize; 6_000];
    for (x, y) in sink.committed() {
        assert_eq!(y, x * 10);
        counts[x as usize] += 1;
    }
    let lost = counts.iter().filter(|c| **c == 0).count();
    let duplicated: usize = counts.iter().map(|c| c.saturating_sub(1)).sum();
    assert_eq!((lost, duplicated), (0, 0), "each input exactly once");
}

#[tokio::test]
async fn a_request_over_the_timeout_fails_the_job_with_a_clear_error() {
    let options = AsyncOptions { timeout: Duration::from_millis(50), ..AsyncOptions::default() };
    let err = env(&FaultInjector::new(), 1)
        .from_source(CollectionSource::sequence(0..10), "numbers")
        .async_map("enrich", options, |x: u64| async move {
            tokio::time::sleep(Duration::from_secs(5)).await;
            Ok(x)
        })
        .sink_to(CollectSink::new(), "sink")
        .execute("timeout")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("timed out after 50ms"), "{err}");
}

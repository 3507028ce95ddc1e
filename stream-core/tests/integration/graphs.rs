//! Jobs with several sources and sinks: a union of two sources, a keyed count
//! whose output fans out to two sinks and whose side output has a sink of its own,
//! and two connected streams with shared keyed state, each crashed at random
//! protocol points; a sink failing its pre-commit keeps every sink from committing;
//! a finished bounded source neither ends nor stalls a job with an unbounded one;
//! each source resumes from its own position after a savepoint, by uid.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::*;
use stream_core::fault::{Fault, FaultInjector, FaultPoint};
use stream_core::prelude::*;

const N: u64 = 12_000;

/// Plant `k` faults at random protocol points of `stages` (commit points only in
/// `sinks`); `subtasks` gives each stage's parallelism. A stage's highest
/// `AfterRecords` threshold is a fifth of what one of its subtasks handles: a
/// threshold counts one attempt's records and each attempt resumes at the last
/// checkpoint, so four faults must fit in one subtask's share.
fn plant(faults: &FaultInjector, rng: &mut fastrand::Rng, k: usize, stages: &[(&str, usize, u64)], sinks: &[&str]) {
    for _ in 0..k {
        let (stage, subtasks, max_records) = stages[rng.usize(0..stages.len())];
        let point = match rng.usize(0..5) {
            0 | 1 => FaultPoint::AfterRecords(rng.u64(50..max_records)),
            2 => FaultPoint::DuringSnapshot,
            3 if sinks.contains(&stage) => FaultPoint::AfterCheckpointBeforeCommit,
            4 if sinks.contains(&stage) => FaultPoint::DuringCommit,
            _ => FaultPoint::DuringSnapshot,
        };
        let fault = Fault::new(stage, point).subtask(rng.usize(0..subtasks));
        eprintln!("planted: {fault:?}");
        faults.plant(fault);
    }
}

fn throttled(numbers: Vec<u64>) -> CollectionSource<u64> {
    CollectionSource::new(numbers).records_per_second(30_000.0).unwrap()
}

/// The true `(key, count)` updates' keys that reach a multiple of ten, sorted.
fn tens_of(inputs: impl IntoIterator<Item = u64>) -> Vec<u64> {
    let mut counts: BTreeMap<u64, u64> = BTreeMap::new();
    for x in inputs {
        *counts.entry(key_of(&x)).or_default() += 1;
    }
    counts.iter().flat_map(|(key, n)| std::iter::repeat_n(*key, (*n / 10) as usize)).collect()
}

fn assert_exact(what: &str, output: &[(u64, u64)]) {
    let verdict = verify_counts(0..N, output);
    eprintln!("{what}: {verdict:?}");
    assert_eq!((verdict.lost, verdict.duplicated, verdict.received), (0, 0, N as usize), "{what}: {verdict:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_union_fanned_out_to_two_sinks_and_a_side_output_is_exactly_once_in_every_sink_across_crashes() {
    let seed = seed();
    let mut rng = fastrand::Rng::with_seed(seed);
    let faults = FaultInjector::new();
    // Each source subtask reads N/4, the count and `all` subtasks N/2, `copy` N,
    // and each `tens` subtask about N/20.
    let stages = [("evens", 2, 600), ("odds", 2, 600), ("count", 2, 1_200), ("all", 2, 1_200), ("copy", 1, 2_400)];
    plant(&faults, &mut rng, 4, &[stages.as_slice(), &[("tens", 2, 120)]].concat(), &["all", "copy", "tens"]);
    let env = crash_env(20, CheckpointingMode::ExactlyOnce, 5, &faults);
    let (all, copy, tens) = (CollectSink::new(), CollectSink::new(), CollectSink::new());
    let tag = OutputTag::<u64>::new("tens");
    let side = tag.clone();
    let counts = env
        .from_source(throttled((0..N).filter(|x| x % 2 == 0).collect()), "evens")
        .union(env.from_source(throttled((0..N).filter(|x| x % 2 == 1).collect()), "odds"))
        .key_by(key_of)
        .process(
            "count",
            process_fn(move |key: &u64, count: &mut u64, _x: u64, out: &mut Collector<(u64, u64)>| {
                *count += 1;
                out.collect((*key, *count));
                if count.is_multiple_of(10) {
                    out.output(&side, *key);
                }
                Ok(())
            }),
        );
    let result = counts
        .clone()
        .sink_to(all.clone(), "all")
        .and(counts.side_output(&tag).sink_to(tens.clone(), "tens"))
        .and(counts.map(|pair| pair).sink_to(copy.clone(), "copy").set_parallelism(1))
        .execute("graph")
        .await
        .unwrap();
    assert!(faults.pending().is_empty(), "every planted fault fires, left: {:?}", faults.pending());
    assert!(result.restarts >= 1, "{result:?}");
    assert_exact("all", &all.committed());
    assert_exact("copy", &copy.committed());
    let mut side_output = tens.committed();
    side_output.sort();
    assert_eq!(side_output, tens_of(0..N), "the side output holds each tenth count of a key exactly once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connected_streams_share_keyed_state_exactly_once_across_crashes() {
    let seed = seed();
    let mut rng = fastrand::Rng::with_seed(seed);
    let faults = FaultInjector::new();
    // Each source subtask reads N/4, each join and sink subtask about N/2.
    let stages = [("left", 2, 600), ("right", 2, 600), ("join", 2, 1_200), ("sink", 2, 1_200)];
    plant(&faults, &mut rng, 4, &stages, &["sink"]);
    let env = crash_env(20, CheckpointingMode::ExactlyOnce, 5, &faults);
    let sink = CollectSink::new();
    // The second input has another type: the number and its double.
    let right = env.from_source(throttled((N / 2..N).collect()), "right").map(|x| (x, x * 2));
    let count = |key: &u64, count: &mut u64, out: &mut Collector<(u64, u64)>| {
        *count += 1;
        out.collect((*key, *count));
        Ok(())
    };
    let result = env
        .from_source(throttled((0..N / 2).collect()), "left")
        .connect(right)
        .key_by(key_of, |(x, double): &(u64, u64)| {
            assert_eq!(*double, x * 2);
            key_of(x)
        })
        .process(
            "join",
            co_process_fn(
                move |key: &u64, n: &mut u64, _x: u64, out: &mut Collector<(u64, u64)>| count(key, n, out),
                move |key: &u64, n: &mut u64, _pair: (u64, u64), out: &mut Collector<(u64, u64)>| count(key, n, out),
            ),
        )
        .sink_to(sink.clone(), "sink")
        .execute("connected")
        .await
        .unwrap();
    assert!(faults.pending().is_empty(), "every planted fault fires, left: {:?}", faults.pending());
    assert!(result.restarts >= 1, "{result:?}");
    // One count per key over both inputs: each record of either counted once.
    assert_exact("join", &sink.committed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sink_failing_its_pre_commit_keeps_every_sink_of_the_job_from_committing() {
    let faults = FaultInjector::new();
    faults.plant(Fault::new("b", FaultPoint::DuringSnapshot).subtask(0));
    let env = StreamEnvironment::builder()
        .checkpointing(CheckpointConfig::builder().interval(Duration::from_millis(20)).build().unwrap())
        .parallelism(2)
        .fault_injector(faults.clone())
        .build()
        .unwrap();
    let (a, b) = (CollectSink::new(), CollectSink::new());
    let numbers = env.from_source(slow_numbers(2_000, 10_000.0), "numbers");
    let error = numbers
        .clone()
        .sink_to(a.clone(), "a")
        .and(numbers.sink_to(b.clone(), "b"))
        .execute("fan-out")
        .await
        .unwrap_err();
    assert_eq!(faults.fired().len(), 1, "{error}");
    // Sink b prepared its commit for the first checkpoint and failed before it
    // acknowledged: that checkpoint never completes, so sink a, which acknowledged
    // it, must not commit either.
    assert_eq!((a.commit_log(), b.commit_log()), (vec![], vec![]), "{error}");
    assert!(a.committed().is_empty() && b.committed().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finished_bounded_source_neither_ends_nor_stalls_a_job_with_an_unbounded_one() {
    let env = StreamEnvironment::builder()
        .checkpointing(CheckpointConfig::builder().interval(Duration::from_millis(20)).build().unwrap())
        .build()
        .unwrap();
    let sink = CollectSink::new();
    let bounded = env.from_source(CollectionSource::new((0..100u64).map(|x| 1_000_000 + x).collect()), "bounded");
    let endless = env.from_source(slow_numbers(u64::MAX / 2, 2_000.0), "endless");
    let handle = bounded.union(endless).sink_to(sink.clone(), "sink").start("mixed");
    let bounded_done = || sink.committed().iter().filter(|x| **x >= 1_000_000).count() == 100;
    wait_until("the bounded source's records are committed", bounded_done).await;
    let metrics = env.metrics();
    let (checkpoints, endless_records) = (metrics.snapshot().checkpoints_completed, sink.committed().len());
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!handle.is_finished(), "the unbounded source keeps the job running");
    assert!(
        metrics.snapshot().checkpoints_completed >= checkpoints + 5,
        "checkpoints go on without the bounded source"
    );
    assert!(sink.committed().len() > endless_records, "the unbounded source's records keep being committed");
    let result = handle.cancel_and_join().await.unwrap();
    assert!(result.cancelled);
}

/// Two sources, each keeping its own position under its uid, into one sink.
fn two_sources(env: &StreamEnvironment, first: (&str, &str), second: (&str, &str)) -> DataStream<u64> {
    let source = |(name, uid): (&str, &str)| {
        let range = if uid == "low" { 0..N / 2 } else { N / 2..N };
        env.from_source(CollectionSource::sequence(range).records_per_second(5_000.0).unwrap(), name).uid(uid)
    };
    source(first).union(source(second))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_source_resumes_from_its_own_position_after_a_savepoint_when_the_graph_is_defined_otherwise() {
    let dir = tempfile::tempdir().unwrap();
    let env = |checkpoints: &str, resume: bool| {
        let mut builder = StreamEnvironment::builder()
            .checkpointing(CheckpointConfig::builder().interval(Duration::from_millis(200)).build().unwrap())
            .state_backend(FsStateBackend::new(dir.path().join(checkpoints)).unwrap())
            .parallelism(2);
        if resume {
            builder = builder.resume_from(dir.path().join("savepoint"));
        }
        builder.build().unwrap()
    };
    let sink = CollectSink::new();
    let first = env("first", false);
    let handle = two_sources(&first, ("low", "low"), ("high", "high")).sink_to(sink.clone(), "sink").uid("sink");
    let handle = handle.start("before");
    wait_until("some of both sources is committed", || sink.committed().len() >= 2_000).await;
    let stopped = handle.stop_with_savepoint(dir.path().join("savepoint")).await.unwrap();
    let read_before = sink.committed().len();
    assert!(!stopped.cancelled && read_before < N as usize, "stopped midway: {read_before}");
    // The new job defines the sources in the other order, under other names: only
    // their uids say whose position is whose.
    let second = env("second", true);
    two_sources(&second, ("upper", "high"), ("lower", "low"))
        .sink_to(sink.clone(), "written")
        .uid("sink")
        .execute("after")
        .await
        .unwrap();
    let mut output = sink.committed();
    output.sort();
    assert_eq!(output, (0..N).collect::<Vec<_>>(), "each number once over both runs (read before: {read_before})");
}

#[tokio::test]
async fn mistakes_in_a_graph_are_reported_when_the_job_starts_naming_them() {
    let env = StreamEnvironment::builder().build().unwrap();
    let numbers = env.from_source(CollectionSource::new(vec![1u64, 2]), "numbers");
    let error = numbers
        .side_output(&OutputTag::<u64>::new("late"))
        .sink_to(DiscardingSink::new(), "late")
        .execute("side")
        .await
        .unwrap_err();
    assert!(error.to_string().contains("\"late\"") && error.to_string().contains("process"), "{error}");

    let other = StreamEnvironment::builder().build().unwrap();
    let error = env
        .from_source(CollectionSource::new(vec![1u64]), "here")
        .union(other.from_source(CollectionSource::new(vec![2u64]), "there"))
        .sink_to(DiscardingSink::new(), "sink")
        .execute("two-envs")
        .await
        .unwrap_err();
    assert!(error.to_string().contains("two environments"), "{error}");

    // A stream given another parallelism on one branch after it was used twice.
    let env = StreamEnvironment::builder().build().unwrap();
    let numbers = env.from_source(CollectionSource::new(vec![1u64, 2]), "numbers");
    let error = numbers
        .clone()
        .sink_to(DiscardingSink::new(), "a")
        .and(numbers.set_parallelism(3).sink_to(DiscardingSink::new(), "b"))
        .execute("conflict")
        .await
        .unwrap_err();
    assert!(error.to_string().contains("`numbers`") && error.to_string().contains("1 and 3"), "{error}");

    // Two sources of one name are two stages; both are read.
    let env = StreamEnvironment::builder().build().unwrap();
    let sink = CollectSink::new();
    env.from_source(CollectionSource::new(vec![1u64]), "numbers")
        .union(env.from_source(CollectionSource::new(vec![2u64]), "numbers"))
        .sink_to(sink.clone(), "sink")
        .execute("same-names")
        .await
        .unwrap();
    let mut all = sink.committed();
    all.sort();
    assert_eq!(all, [1, 2]);
}

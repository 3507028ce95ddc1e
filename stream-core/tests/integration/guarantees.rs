//! End-to-end guarantees of the runtime: a keyed count crashed at random protocol
//! points, in exactly-once and at-least-once mode, with parallelism 2.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::*;
use stream_core::fault::FaultInjector;
use stream_core::prelude::*;

const N: u64 = 20_000;
/// Highest `AfterRecords` threshold planted. A threshold counts records of one
/// attempt, and each attempt resumes where the last one checkpointed, so the last
/// fault to fire needs that many records still ahead of its subtask: four faults of
/// at most N/10 each use at most 8 000 of a subtask's ~10 000.
const MAX_RECORDS_BEFORE_FAULT: u64 = N / 10;

async fn run_keyed_count(mode: CheckpointingMode, crashes: usize, seed: u64) -> (Vec<(u64, u64)>, u64, usize) {
    let mut rng = fastrand::Rng::with_seed(seed);
    let faults = FaultInjector::new();
    let planted = plant_random_faults(&faults, &mut rng, crashes, MAX_RECORDS_BEFORE_FAULT);
    eprintln!("planted: {planted:?}");
    let env = crash_env(20, mode, crashes as u32 + 1, &faults);
    let sink = CollectSink::new();
    let result = keyed_count_job(&env, slow_numbers(N, 40_000.0), &sink).await.unwrap();
    let fired = faults.fired().len();
    assert!(faults.pending().is_empty(), "every planted fault must fire, left: {:?}", faults.pending());
    // Two faults may fire in the same attempt (e.g. both sink subtasks on one commit).
    assert!(result.restarts >= 1 && result.restarts as usize <= fired, "restarts {} fired {fired}", result.restarts);
    (sink.committed(), result.metrics.checkpoints_completed, fired)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exactly_once_keyed_count_survives_random_crashes() {
    let seed = seed();
    let (output, checkpoints, fired) = run_keyed_count(CheckpointingMode::ExactlyOnce, 4, seed).await;
    let verdict = verify_counts(0..N, &output);
    eprintln!("checkpoints={checkpoints} crashes={fired} {verdict:?}");
    assert_eq!(fired, 4);
    assert!(checkpoints >= 3, "the job must have checkpointed, got {checkpoints}");
    assert_eq!(verdict.lost, 0, "exactly-once lost records: {verdict:?}");
    assert_eq!(verdict.duplicated, 0, "exactly-once duplicated records: {verdict:?}");
    assert_eq!(verdict.received, N as usize);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_least_once_keyed_count_loses_nothing() {
    let seed = seed();
    let (output, _, fired) = run_keyed_count(CheckpointingMode::AtLeastOnce, 4, seed).await;
    let verdict = verify_counts(0..N, &output);
    eprintln!("crashes={fired} {verdict:?}");
    assert_eq!(fired, 4);
    assert_eq!(verdict.undercounted_keys, 0, "at-least-once undercounted: {verdict:?}");
    assert!(verdict.received >= N as usize, "at-least-once lost records: {verdict:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_crashes_output_is_exact_and_a_stage_can_change_parallelism() {
    let env = StreamEnvironment::builder().parallelism(2).build().unwrap();
    let sink = CollectSink::new();
    env.from_source(CollectionSource::sequence(0..N), "numbers")
        .map(|x| x * 3)
        .set_parallelism(3)
        .filter(|x| x % 2 == 0)
        .flat_map(|x| [x / 3, x / 3])
        .key_by(key_of)
        .process("count", keyed_count())
        .set_parallelism(3)
        .sink_to(sink.clone(), "sink")
        .set_parallelism(1)
        .execute("shapes")
        .await
        .unwrap();
    // Even numbers, each twice.
    let inputs = (0..N).filter(|x| x % 2 == 0).flat_map(|x| [x, x]);
    let verdict = verify_counts(inputs, &sink.committed());
    assert_eq!((verdict.lost, verdict.duplicated), (0, 0), "{verdict:?}");
    assert_eq!(verdict.received, N as usize);
}

//! Operator uids: a job stopped with its state in a checkpoint directory resumes in a
//! changed graph (a stage inserted before the keyed count, which moves every stage's
//! place) with no count lost or repeated, because state is matched by uid; a job that
//! lost its stateful operator fails the restore naming that uid, unless it allows
//! dropping the state.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::Duration;

use stream_core::prelude::*;

use crate::common::{key_of, keyed_count, verify_counts, wait_until};

fn env(dir: &Path, allow_dropping: bool) -> StreamEnvironment {
    StreamEnvironment::builder()
        .checkpointing(CheckpointConfig::builder().interval(Duration::from_millis(20)).build().unwrap())
        .state_backend(FsStateBackend::new(dir).unwrap())
        .batch_size(50)
        .allow_non_restored_state(allow_dropping)
        .build()
        .unwrap()
}

/// "Unbounded": far more numbers than a test waits for, paced.
fn numbers() -> CollectionSource<u64> {
    CollectionSource::sequence(0..u64::MAX / 2).records_per_second(20_000.0).unwrap()
}

/// Run `handle` until `sink` has committed `at_least` records, then cancel it.
async fn until(handle: JobHandle, sink: &CollectSink<(u64, u64)>, at_least: usize) {
    wait_until("the job commits while it runs", || sink.committed().len() >= at_least).await;
    assert!(handle.cancel_and_join().await.unwrap().cancelled);
}

/// numbers -> [a rebalance, in the changed graph] -> keyed count -> sink, with uids
/// on the source, the count and the sink (`uids` false: none).
fn job(dir: &Path, sink: &CollectSink<(u64, u64)>, inserted: bool, uids: bool) -> JobHandle {
    let name = |uid: &'static str| if uids { Some(uid) } else { None };
    let with_uid = |stream: DataStream<u64>, uid| match name(uid) {
        Some(uid) => stream.uid(uid),
        None => stream,
    };
    let mut stream = with_uid(env(dir, false).from_source(numbers(), "numbers"), "numbers");
    if inserted {
        stream = stream.rebalance(2);
    }
    let counts = stream.key_by(key_of).process("count", keyed_count());
    let counts = match name("count") {
        Some(uid) => counts.uid(uid),
        None => counts,
    };
    let job = counts.sink_to(sink.clone(), "sink");
    let job = match name("sink") {
        Some(uid) => job.uid(uid),
        None => job,
    };
    job.start("uids")
}

/// Every `(key, count)` update of the numbers `0..n` exactly once, for the `n` the
/// committed output covers (the source has one split: a checkpoint covers a prefix).
fn check_exactly_once(output: &[(u64, u64)]) {
    let n = output.len() as u64;
    let verdict = verify_counts(0..n, output);
    assert_eq!((verdict.lost, verdict.duplicated), (0, 0), "{verdict:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_follows_its_uid_into_a_graph_with_an_operator_inserted() {
    let dir = tempfile::tempdir().unwrap();
    let sink = CollectSink::new();
    until(job(dir.path(), &sink, false, true), &sink, 1_000).await;
    let first = sink.committed().len();
    until(job(dir.path(), &sink, true, true), &sink, first + 1_000).await;
    check_exactly_once(&sink.committed());
}

/// Without uids the same change hands each stage's state to the stage now in its
/// place: the job fails on state of the wrong type, or counts wrongly (this is what
/// uids are for; if it ever resumed correctly, the test above would prove nothing).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_uids_the_changed_graph_does_not_resume_correctly() {
    let dir = tempfile::tempdir().unwrap();
    let sink = CollectSink::new();
    until(job(dir.path(), &sink, false, false), &sink, 1_000).await;
    let first = sink.committed().len();
    let handle = job(dir.path(), &sink, true, false);
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        while sink.committed().len() < first + 1_000 && !handle.is_finished() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    let outcome = handle.cancel_and_join().await;
    let output = sink.committed();
    let verdict = verify_counts(0..output.len() as u64, &output);
    assert!(outcome.is_err() || verdict.lost + verdict.duplicated > 0, "{outcome:?} {verdict:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_stateful_operator_fails_the_restore_naming_its_uid() {
    let dir = tempfile::tempdir().unwrap();
    let sink = CollectSink::new();
    until(job(dir.path(), &sink, false, true), &sink, 500).await;
    // The count is gone: numbers straight to the sink.
    let plain = |allow: bool, sink: &CollectSink<(u64, u64)>| {
        env(dir.path(), allow)
            .from_source(numbers(), "numbers")
            .uid("numbers")
            .map(|x| (x, 0))
            .sink_to(sink.clone(), "sink")
            .uid("sink")
    };
    let run = plain(false, &CollectSink::new()).execute("uids");
    let err = tokio::time::timeout(Duration::from_secs(30), run).await.unwrap().unwrap_err();
    assert!(matches!(&err, StreamError::StateNotRestored { uids, .. } if uids == &["count".to_string()]), "{err}");
    assert!(err.to_string().contains("allow_non_restored_state"), "{err}");
    // Allowed to drop it, the job resumes, its source after its stored position.
    let resumed = CollectSink::new();
    // Its sink also commits what the old sink had pending: counts, all above 0.
    let numbers =
        || resumed.committed().into_iter().filter(|(_, count)| *count == 0).map(|(x, _)| x).collect::<Vec<_>>();
    let handle = plain(true, &resumed).start("uids");
    wait_until("the job runs without the dropped state", || numbers().len() >= 100).await;
    handle.cancel_and_join().await.unwrap();
    let first = numbers().into_iter().min().unwrap();
    assert!(first >= 500, "the source resumed at {first}, not after the 500 numbers already counted");
}

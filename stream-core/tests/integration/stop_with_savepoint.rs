//! Stop-with-savepoint: a job stopped under load has written and committed every
//! record its sources read (nothing waits for a next checkpoint), and a job resumed
//! from the savepoint into a fresh checkpoint directory continues with no keyed count
//! lost or repeated. The same through SIGTERM to a job process (what Kubernetes
//! sends), with `JobHandle::stop_on_sigterm`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use stream_core::prelude::*;

/// A keyed count of `numbers` (one reader: its output covers a prefix of them),
/// checkpointed every second so that much is uncommitted at any moment.
fn counting_job(
    checkpoints: &Path,
    resume_from: Option<&Path>,
    numbers: CollectionSource<u64>,
) -> DataStream<(u64, u64)> {
    let mut builder = StreamEnvironment::builder()
        .checkpointing(CheckpointConfig::builder().interval(Duration::from_secs(1)).build().unwrap())
        .state_backend(FsStateBackend::new(checkpoints).unwrap())
        .parallelism(2)
        .batch_size(50);
    if let Some(savepoint) = resume_from {
        builder = builder.resume_from(savepoint);
    }
    builder
        .build()
        .unwrap()
        .from_source(numbers, "numbers")
        .uid("numbers")
        .set_parallelism(1)
        .key_by(key_of)
        .process("count", keyed_count())
        .uid("count")
        .set_parallelism(2)
}

/// Records the source stage read, from the job's metrics.
fn read_by_source(result: &JobResult) -> u64 {
    let stages = &result.metrics.stages;
    stages.iter().find(|(stage, _, _)| stage == "numbers").map(|(_, _, out)| *out).expect("the source stage")
}

fn check_prefix(output: &[(u64, u64)]) {
    let verdict = verify_counts(0..output.len() as u64, output);
    assert_eq!((verdict.lost, verdict.duplicated), (0, 0), "{verdict:?}");
}

async fn run_then_stop(
    checkpoints: &Path,
    resume_from: Option<&Path>,
    savepoint: &Path,
    sink: &CollectSink<(u64, u64)>,
    more: usize,
) -> JobResult {
    let before = sink.committed().len();
    let numbers = CollectionSource::sequence(0..u64::MAX / 2).records_per_second(20_000.0).unwrap();
    let handle =
        counting_job(checkpoints, resume_from, numbers).sink_to(sink.clone(), "sink").uid("sink").start("stop");
    // Stop while it writes: once a checkpoint committed some and more was read.
    wait_until("the job commits while it runs", || sink.committed().len() >= before + more).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let result = tokio::time::timeout(Duration::from_secs(30), handle.stop_with_savepoint(savepoint))
        .await
        .expect("the stop ends the job")
        .unwrap();
    assert!(!result.cancelled, "{result:?}");
    assert_eq!(result.savepoint.as_deref(), Some(savepoint));
    result
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_job_commits_everything_it_read_and_resumes_from_its_savepoint() {
    let dir = tempfile::tempdir().unwrap();
    let sink = CollectSink::new();
    let first = run_then_stop(&dir.path().join("cp-1"), None, &dir.path().join("sp-1"), &sink, 1).await;
    let committed = sink.committed().len() as u64;
    assert_eq!(committed, read_by_source(&first), "every record read was committed at the stop");
    check_prefix(&sink.committed());
    // A new job on a fresh checkpoint directory continues from the savepoint alone.
    let resumed = run_then_stop(
        &dir.path().join("cp-2"),
        Some(&dir.path().join("sp-1")),
        &dir.path().join("sp-2"),
        &sink,
        committed as usize + 1,
    )
    .await;
    assert!(resumed.last_checkpoint_id > first.last_checkpoint_id, "ids continue from the savepoint");
    assert_eq!(sink.committed().len() as u64, committed + read_by_source(&resumed));
    check_prefix(&sink.committed());
}

#[tokio::test]
async fn resuming_from_a_directory_without_a_savepoint_fails_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-savepoint");
    let job = counting_job(&dir.path().join("cp"), Some(&missing), CollectionSource::sequence(0..10))
        .sink_to(CollectSink::new(), "sink");
    let err = job.execute("resume").await.unwrap_err();
    assert!(err.to_string().contains("no-savepoint") && err.is_permanent(), "{err}");
}

// ---- SIGTERM to a job process ---------------------------------------------------

const CHILD_DIR: &str = "STREAM_CORE_SIGTERM_TEST_DIR";
const CHILD_RESUME: &str = "STREAM_CORE_SIGTERM_TEST_RESUME";
const N: u64 = 30_000;

/// The job process: counts `0..N` at 6,000 a second into committed files until its
/// end or SIGTERM (then a savepoint in `<dir>/savepoint`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "child process of sigterm_stops_a_job_process_with_a_savepoint_it_resumes_from"]
async fn sigterm_child_job() {
    let dir = PathBuf::from(std::env::var(CHILD_DIR).expect("run by the parent test"));
    let resume = std::env::var(CHILD_RESUME).ok().map(PathBuf::from);
    let (out, run) = (dir.join("out"), if resume.is_some() { "cp-2" } else { "cp-1" });
    std::fs::create_dir_all(&out).unwrap();
    let handle = counting_job(&dir.join(run), resume.as_deref(), slow_numbers(N, 6_000.0))
        .sink_to(FileCommitSink { dir: out }, "sink")
        .uid("sink")
        .start("sigterm-test");
    let result = handle.stop_on_sigterm(dir.join("savepoint"), Duration::from_secs(30)).await.unwrap();
    assert!(!result.cancelled, "{result:?}");
    println!("savepoint={:?}", result.savepoint);
}

fn child(dir: &Path, resume: Option<&Path>) -> std::process::Child {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command.args(["sigterm_child_job", "--ignored", "--nocapture"]).env(CHILD_DIR, dir);
    if let Some(savepoint) = resume {
        command.env(CHILD_RESUME, savepoint);
    }
    command.stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap()
}

#[test]
fn sigterm_stops_a_job_process_with_a_savepoint_it_resumes_from() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let mut process = child(dir.path(), None);
    // Once it has committed something (its SIGTERM handler is in place by then).
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !out.is_dir() || read_output(&out).is_empty() {
        assert!(std::time::Instant::now() < deadline, "the job process commits while it runs");
        std::thread::sleep(Duration::from_millis(20));
    }
    let status = Command::new("kill").args(["-TERM", &process.id().to_string()]).status().unwrap();
    assert!(status.success());
    assert!(process.wait().unwrap().success(), "the job process ends cleanly on SIGTERM");
    let stopped = read_output(&out);
    assert!(!stopped.is_empty() && (stopped.len() as u64) < N, "stopped midway: {}", stopped.len());
    check_prefix(&stopped);
    let savepoint = dir.path().join("savepoint");
    assert!(savepoint.is_dir());
    // Resumed from the savepoint into a fresh checkpoint directory, it finishes.
    assert!(child(dir.path(), Some(&savepoint)).wait().unwrap().success());
    let output = read_output(&out);
    let verdict = verify_counts(0..N, &output);
    eprintln!("committed at the stop: {}; {verdict:?}", stopped.len());
    assert_eq!((verdict.lost, verdict.duplicated, verdict.received), (0, 0, N as usize), "{verdict:?}");
}

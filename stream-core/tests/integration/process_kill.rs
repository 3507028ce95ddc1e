//! A person kills the process with `kill -9` several times and starts it again on
//! the same checkpoint directory: the output (files committed by a two-phase sink)
//! must hold every keyed-count update exactly once.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use stream_core::prelude::*;

const N: u64 = 30_000;
const CHILD_ENV: &str = "STREAM_CORE_KILL_TEST_DIR";

/// The job run by the child process (started by the test below).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "child process of kill_minus_nine_and_restart_resumes_exactly_once"]
async fn kill_child_job() {
    let dir = PathBuf::from(std::env::var(CHILD_ENV).expect("run by the parent test"));
    let out = dir.join("out");
    fs::create_dir_all(&out).unwrap();
    let env = StreamEnvironment::builder()
        .checkpointing(CheckpointConfig::builder().interval(Duration::from_millis(50)).build().unwrap())
        .state_backend(FsStateBackend::new(dir.join("checkpoints")).unwrap())
        .parallelism(2)
        .batch_size(100)
        .build()
        .unwrap();
    env.from_source(slow_numbers(N, 6_000.0), "numbers")
        .key_by(key_of)
        .process("count", keyed_count())
        .sink_to(FileCommitSink { dir: out }, "sink")
        .execute("kill-test")
        .await
        .unwrap();
}

/// The child job, by a substring of its path (`process_kill::kill_child_job`).
fn child(dir: &Path) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["kill_child_job", "--ignored", "--nocapture"])
        .env(CHILD_ENV, dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

#[test]
fn kill_minus_nine_and_restart_resumes_exactly_once() {
    let mut rng = fastrand::Rng::with_seed(seed());
    let dir = tempfile::tempdir().unwrap();
    let mut kills = 0;
    for _ in 0..3 {
        let mut process = child(dir.path());
        std::thread::sleep(Duration::from_millis(rng.u64(300..900)));
        if process.try_wait().unwrap().is_none() {
            process.kill().unwrap(); // SIGKILL
            kills += 1;
        }
        process.wait().unwrap();
    }
    assert_eq!(kills, 3, "every run must have been killed while running");
    let partial = read_output(&dir.path().join("out")).len();
    let started = Instant::now();
    let status = child(dir.path()).wait().unwrap();
    assert!(status.success(), "the last run must finish");
    assert!(started.elapsed() < Duration::from_secs(60));
    let output = read_output(&dir.path().join("out"));
    let verdict = verify_counts(0..N, &output);
    eprintln!("committed before the last run: {partial}; {verdict:?}");
    assert!(partial > 0, "the killed runs must have committed something");
    assert_eq!((verdict.lost, verdict.duplicated), (0, 0), "{verdict:?}");
    assert_eq!(verdict.received, N as usize);
}

//! A person kills the process with `kill -9` several times and starts it again on
//! the same checkpoint directory: the output (files committed by a two-phase sink)
//! must hold every keyed-count update exactly once.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use stream_core::api::{Committer, Sink, SinkWriter, TaskContext};
use stream_core::prelude::*;
use stream_core::{Result, StreamError};

const N: u64 = 30_000;
const CHILD_ENV: &str = "STREAM_CORE_KILL_TEST_DIR";

/// Lines go to a hidden pending file at pre-commit; commit renames it to `part-*`.
#[derive(Clone)]
struct FileCommitSink {
    dir: PathBuf,
}

struct FileWriter {
    dir: PathBuf,
    prefix: String,
    lines: String,
}

struct FileCommitter {
    dir: PathBuf,
}

impl Sink<(u64, u64)> for FileCommitSink {
    type Committable = String;
    type WriterState = ();
    type Writer = FileWriter;
    type Committer = FileCommitter;

    async fn create_writer(&self, ctx: &TaskContext, _restored: Vec<()>) -> Result<FileWriter> {
        Ok(FileWriter {
            dir: self.dir.clone(),
            prefix: format!("{}-{}", ctx.attempt_id, ctx.subtask),
            lines: String::new(),
        })
    }

    async fn create_committer(&self, _ctx: &TaskContext) -> Result<FileCommitter> {
        Ok(FileCommitter { dir: self.dir.clone() })
    }
}

impl SinkWriter<(u64, u64)> for FileWriter {
    type Committable = String;
    type State = ();

    async fn write(&mut self, (key, count): (u64, u64)) -> Result<()> {
        use std::fmt::Write;
        let _ = writeln!(self.lines, "{key} {count}");
        Ok(())
    }

    async fn flush(&mut self, _end: bool) -> Result<()> {
        Ok(())
    }

    async fn prepare_commit(&mut self, checkpoint_id: u64) -> Result<Vec<String>> {
        if self.lines.is_empty() {
            return Ok(Vec::new());
        }
        let name = format!("{}-{checkpoint_id}", self.prefix);
        let path = self.dir.join(format!(".pending-{name}"));
        let mut file = fs::File::create(&path).map_err(|e| StreamError::io(&path, e))?;
        file.write_all(self.lines.as_bytes()).and_then(|_| file.sync_all()).map_err(|e| StreamError::io(&path, e))?;
        self.lines.clear();
        Ok(vec![name])
    }
}

impl Committer for FileCommitter {
    type Committable = String;

    async fn commit(&mut self, names: &[String]) -> Result<()> {
        for name in names {
            let pending = self.dir.join(format!(".pending-{name}"));
            let done = self.dir.join(format!("part-{name}"));
            if pending.exists() {
                fs::rename(&pending, &done).map_err(|e| StreamError::io(&done, e))?;
            } else if !done.exists() {
                return Err(StreamError::io(&pending, std::io::Error::other("committable lost")));
            }
        }
        Ok(())
    }
}

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

fn read_output(out: &Path) -> Vec<(u64, u64)> {
    let mut pairs = Vec::new();
    for entry in fs::read_dir(out).unwrap() {
        let path = entry.unwrap().path();
        if !path.file_name().unwrap().to_string_lossy().starts_with("part-") {
            continue;
        }
        for line in fs::read_to_string(&path).unwrap().lines() {
            let (k, c) = line.split_once(' ').unwrap();
            pairs.push((k.parse().unwrap(), c.parse().unwrap()));
        }
    }
    pairs
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

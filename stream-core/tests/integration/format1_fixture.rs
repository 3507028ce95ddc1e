//! A checkpoint directory written by the format-1 code (JSON task states; commit
//! fd94b3e) restores into this code: `tests/fixtures/format-1` holds a keyed-count job
//! cancelled after checkpoint 13, with the files its two-phase sink committed and,
//! as after a crash between checkpoint 13 completing and its commit, checkpoint 13's
//! files still pending. Run again to its end, every `(key, count)` update of the
//! 3,000 numbers is there exactly once: source positions, keyed counts and the sink's
//! pending committables all came back from the JSON states.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common::*;
use std::path::Path;
use std::time::Duration;
use stream_core::prelude::*;

const N: u64 = 3_000;

fn job(dir: &Path) -> stream_core::Job {
    let env = StreamEnvironment::builder()
        .checkpointing(CheckpointConfig::builder().interval(Duration::from_millis(50)).build().unwrap())
        .state_backend(FsStateBackend::new(dir.join("checkpoints")).unwrap().retain(1).unwrap())
        .parallelism(2)
        .batch_size(20)
        .build()
        .unwrap();
    env.from_source(slow_numbers(N, 20_000.0), "numbers")
        .uid("numbers")
        .key_by(key_of)
        .process("count", keyed_count())
        .uid("count")
        .sink_to(FileCommitSink { dir: dir.join("out") }, "sink")
        .uid("sink")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_format_1_checkpoint_directory_restores_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/format-1"), dir.path());
    let before = read_output(&dir.path().join("out")).len();
    let result = job(dir.path()).execute("format-1").await.unwrap();
    assert!(result.last_checkpoint_id > 13, "ids continue from the restored checkpoint 13: {result:?}");
    let output = read_output(&dir.path().join("out"));
    let verdict = verify_counts(0..N, &output);
    eprintln!("committed in the fixture: {before}; {verdict:?}");
    assert_eq!((verdict.lost, verdict.duplicated, verdict.received), (0, 0, N as usize), "{verdict:?}");
}

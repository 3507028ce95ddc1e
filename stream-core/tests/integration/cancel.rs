//! Unbounded jobs: cancel a running job, start it again on the same checkpoint
//! directory, and it continues exactly where its last checkpoint was.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use stream_core::prelude::*;

fn env(dir: &std::path::Path) -> StreamEnvironment {
    StreamEnvironment::builder()
        .checkpointing(CheckpointConfig::builder().interval(Duration::from_millis(20)).build().unwrap())
        .state_backend(FsStateBackend::new(dir).unwrap())
        .batch_size(50)
        .build()
        .unwrap()
}

async fn run_until(dir: &std::path::Path, sink: &CollectSink<u64>, at_least: usize) -> JobResult {
    // "Unbounded": far more records than the test waits for.
    let source = CollectionSource::sequence(0..u64::MAX / 2).records_per_second(20_000.0).unwrap();
    let handle = env(dir).from_source(source, "numbers").sink_to(sink.clone(), "sink").start("unbounded");
    crate::common::wait_until("the job commits while it runs", || sink.committed().len() >= at_least).await;
    handle.cancel_and_join().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_job_resumes_from_its_checkpoint_without_gaps_or_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let sink = CollectSink::new();
    let first = run_until(dir.path(), &sink, 1_000).await;
    assert!(first.cancelled);
    let after_first = sink.committed().len();
    let second = run_until(dir.path(), &sink, after_first + 1_000).await;
    assert!(second.cancelled);
    let mut committed = sink.committed();
    committed.sort_unstable();
    let n = committed.len() as u64;
    assert!(n >= 2_000);
    assert_eq!(committed, (0..n).collect::<Vec<u64>>(), "no gap and no duplicate across cancel and resume");
}

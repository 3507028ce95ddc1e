//! Checkpoints on S3 (moto from `cargo xtask services`, or `S3_ENDPOINT`) with
//! fencing: create-only claims (`If-None-Match: *`) as the real S3 API answers them.
//! A replaced writer is fenced, also when the claim it makes next was deleted long
//! ago, and a job restores what its replacement's storage holds.

use std::time::Duration;

use connector_testkit::{TestServer, probe, servers};
use stream_core::StreamError;
use stream_core::prelude::*;
use stream_core::state::{CheckpointData, FinishedSplitsBoard, ObjectStoreStateBackend, StateBackend, StateBlob};

/// A backend on a fresh bucket of the S3 test server, or `None` to skip.
async fn backends(test: &str, retain: usize) -> Option<(ObjectStoreStateBackend, ObjectStoreStateBackend)> {
    let server = TestServer::discover(&servers::S3).await.unwrap()?;
    let bucket = format!("{test}-{}-{}", std::process::id(), fastrand::u32(..)).replace('_', "-");
    probe::s3_create_bucket(&server.endpoint, &bucket).unwrap();
    let backend = || {
        let store = crate::s3::store(&server.endpoint, &bucket, Duration::from_secs(10));
        ObjectStoreStateBackend::builder(store).prefix("jobs/counting/replica-0").retain(retain).build().unwrap()
    };
    Some((backend(), backend()))
}

fn checkpoint(id: u64, writer: &str) -> CheckpointData {
    let state = StateBlob::encode("t", &writer.to_string()).unwrap();
    CheckpointData { id, timestamp_ms: id, enumerator: None, tasks: [("1-count/0".to_string(), state)].into() }
}

fn writer_of(checkpoint: &CheckpointData) -> String {
    checkpoint.tasks["1-count/0"].decode("t").unwrap()
}

/// Runs `work` on a blocking thread, as the runtime calls a state backend.
async fn blocking<R: Send + 'static>(work: impl FnOnce() -> R + Send + 'static) -> R {
    tokio::task::spawn_blocking(work).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replaced_writer_is_fenced_on_s3_and_its_replacement_restores_what_it_completed() {
    let Some((old, new)) = backends("fenced", 2).await else { return };
    blocking(move || {
        old.begin().unwrap();
        old.store(&checkpoint(1, "old")).unwrap();
        old.store(&checkpoint(2, "old")).unwrap();
        new.begin().unwrap();
        assert_eq!(new.latest().unwrap().unwrap(), checkpoint(2, "old"));
        let fenced = old.store(&checkpoint(3, "old")).unwrap_err();
        assert!(matches!(fenced, StreamError::Fenced { .. }), "{fenced}");
        for id in 3..=6 {
            new.store(&checkpoint(id, "new")).unwrap();
        }
        // The old writer's next claim number was deleted with the old checkpoints,
        // so its claim succeeds; the newer claims still fence it.
        let again = old.store(&checkpoint(3, "old")).unwrap_err();
        assert!(matches!(again, StreamError::Fenced { .. }), "{again}");
        let restored = new.latest().unwrap().unwrap();
        assert_eq!((restored.id, writer_of(&restored)), (6, "new".to_string()));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_replaced_by_a_new_process_on_the_same_prefix_loses_and_repeats_nothing() {
    const N: u64 = 4_000;
    let Some((first, second)) = backends("replaced", 3).await else { return };
    // One sink for both jobs: what each committed lands in one place.
    let sink = CollectSink::<u64>::new();
    let job = |backend: ObjectStoreStateBackend| {
        StreamEnvironment::builder()
            .checkpointing(CheckpointConfig::builder().interval(Duration::from_millis(100)).build().unwrap())
            .state_backend(backend)
            .build()
            .unwrap()
            .from_source(CollectionSource::sequence(0..N).records_per_second(2_000.0).unwrap(), "numbers")
            .uid("numbers")
            .sink_to(sink.clone(), "sink")
            .uid("sink")
    };
    // The first process is stopped part-way, the second resumes from its checkpoint
    // on S3 and runs to the end.
    let handle = job(first).start("first");
    tokio::time::sleep(Duration::from_millis(800)).await;
    handle.cancel_and_join().await.unwrap();
    let before = sink.committed().len() as u64;
    assert!(before > 0 && before < N, "the first job committed part of the input: {before}");
    job(second).execute("second").await.unwrap();
    let mut committed = sink.committed();
    committed.sort_unstable();
    let duplicated = committed.windows(2).filter(|w| w[0] == w[1]).count();
    committed.dedup();
    assert_eq!(
        (committed.len() as u64, duplicated),
        (N, 0),
        "lost {} duplicated {duplicated}",
        N - committed.len() as u64
    );
}

/// The finished-splits board replicas share (the Kinesis source's, for merges across
/// replicas): a post is seen by another process's board on the same prefix, in its
/// scope only, and posting again is harmless.
#[tokio::test]
async fn a_split_posted_on_the_board_is_seen_by_the_other_replicas_on_s3() {
    let Some(server) = TestServer::discover(&servers::S3).await.unwrap() else { return };
    let bucket = format!("board-{}-{}", std::process::id(), fastrand::u32(..));
    probe::s3_create_bucket(&server.endpoint, &bucket).unwrap();
    let board = || {
        let store = crate::s3::store(&server.endpoint, &bucket, Duration::from_secs(10));
        FinishedSplitsBoard::new(store, "jobs/orders/finished-shards").unwrap()
    };
    let (poster, reader) = (board().scoped("orders@1700000000000"), board().scoped("orders@1700000000000"));
    let other_stream = board().scoped("orders@1800000000000");
    assert!(!reader.is_finished("shardId-000000000003").await.unwrap());
    poster.post("shardId-000000000003").await.unwrap();
    poster.post("shardId-000000000003").await.unwrap();
    assert!(reader.is_finished("shardId-000000000003").await.unwrap());
    assert!(!reader.is_finished("shardId-000000000004").await.unwrap());
    assert!(!other_stream.is_finished("shardId-000000000003").await.unwrap());
}

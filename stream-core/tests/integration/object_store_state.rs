//! Checkpoints on object storage (a local directory through the same API; S3 is in
//! the end-to-end tests): a job whose replacement started while it still runs is
//! fenced at its next checkpoint and stops, without restarting and without
//! committing past the checkpoint its replacement restores.
#![cfg(feature = "object-store")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::time::Duration;

use common::*;
use stream_core::prelude::*;
use stream_core::state::{ObjectStoreStateBackend, StateBackend};

fn committed(log: &EventLog) -> Vec<u64> {
    log.events().into_iter().filter_map(|(_, e)| if let Event::Committed(id) = e { Some(id) } else { None }).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replaced_job_stops_at_its_next_checkpoint_committing_nothing_its_replacement_does_not_restore() {
    init_tracing();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("file://{}", dir.path().display());
    let log = EventLog::default();
    let env = StreamEnvironment::builder()
        .checkpointing(CheckpointConfig::builder().interval(Duration::from_millis(50)).build().unwrap())
        .state_backend(ObjectStoreStateBackend::from_url(&url).unwrap().build().unwrap())
        .restart_strategy(RestartStrategy::fixed_delay(3, Duration::ZERO))
        .build()
        .unwrap();
    let job = env
        .from_source(slow_numbers(10_000_000, 5_000.0), "numbers")
        .sink_to(ProbeSink::new(log.clone()), "sink")
        .start("replaced");
    wait_until("three commits", || committed(&log).len() >= 3).await;

    // The replacement claims the storage as a starting job does, and reads what it
    // would restore.
    let replacement = ObjectStoreStateBackend::from_url(&url).unwrap().build().unwrap();
    let restored = tokio::task::spawn_blocking(move || {
        replacement.begin().unwrap();
        replacement.latest().unwrap().unwrap().id
    })
    .await
    .unwrap();

    let error = tokio::time::timeout(Duration::from_secs(30), job.join())
        .await
        .expect("the replaced job stops at its next checkpoint")
        .unwrap_err();
    assert!(error.to_string().contains("claimed by a newer writer"), "{error}");
    assert!(matches!(error, StreamError::JobFailed { attempts: 1, .. }), "no restart: {error}");
    let committed = committed(&log);
    assert!(committed.iter().all(|id| *id <= restored), "committed {committed:?} past restored checkpoint {restored}");
}

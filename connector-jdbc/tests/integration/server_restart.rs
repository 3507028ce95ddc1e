//! PostgreSQL stopped as by a crash (`-m immediate`: no shutdown checkpoint, the WAL
//! replayed at the next start) and started again, on a private server of each test:
//! a prepared transaction survives it and is committed after; the exactly-once sink
//! and the source keep their guarantee across a restart in the middle of a run.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use common::{FromTable, ToTable};
use connector_base::DeliveryGuarantee::ExactlyOnce;
use connector_testkit::servers::POSTGRES_STOP_IMMEDIATE;
use connector_testkit::{
    PrivateServer, SinkTarget, SuiteConfig, TestServer, run_sink_suite, run_source_suite, servers,
};
use stream_core::api::{Committer, Sink, SinkWriter, TaskContext};

/// A private server whose stop is an immediate shutdown.
async fn crashable_server() -> Option<PrivateServer> {
    let shared = TestServer::discover(&servers::POSTGRES).await.unwrap()?;
    Some(PrivateServer::start(&servers::POSTGRES, &shared, &[POSTGRES_STOP_IMMEDIATE.into()]).await.unwrap())
}

/// `target` moved to `server` (its table made there).
async fn on(server: &PrivateServer, target: Arc<ToTable>) -> Arc<ToTable> {
    let mut target = Arc::unwrap_or_clone(target);
    (target.url, target.via) = (server.endpoint().to_string(), server.endpoint().to_string());
    let create = format!("CREATE TABLE {} (id bigint NOT NULL)", target.table);
    common::client(&target.url).await.batch_execute(&create).await.unwrap();
    Arc::new(target)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prepared_transaction_survives_an_immediate_shutdown_and_is_committed_after() {
    let Some(server) = crashable_server().await else { return };
    let target = on(&server, ToTable::new("crash_prepared", ExactlyOnce).await.unwrap()).await;
    let sink = target.sink();
    let ctx = |restored| TaskContext {
        stage: "1-sink".into(),
        name: "sink".into(),
        subtask: 0,
        parallelism: 1,
        attempt: 0,
        attempt_id: "test".into(),
        restored_checkpoint: restored,
        ..TaskContext::default()
    };
    let mut writer = sink.create_writer(&ctx(None), Vec::new()).await.unwrap();
    for id in [1, 2, 3] {
        writer.write(id).await.unwrap();
    }
    writer.flush(false).await.unwrap();
    let gids = writer.prepare_commit(1).await.unwrap();
    drop(writer);
    server.restart(Duration::from_millis(200)).await.unwrap();
    assert_eq!(target.prepared_left().await, vec![gids[0].text()], "prepared across the crash");
    // The restarted job: its writer leaves checkpoint 1's transaction to the committer.
    let _writer = sink.create_writer(&ctx(Some(1)), Vec::new()).await.unwrap();
    sink.create_committer(&ctx(Some(1))).await.unwrap().commit(&gids).await.unwrap();
    let mut rows = target.read_back().await.unwrap();
    rows.sort();
    assert_eq!(rows, vec![1, 2, 3]);
    assert_eq!(target.prepared_left().await, Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_exactly_once_sink_survives_an_immediate_shutdown_mid_run() {
    let Some(server) = crashable_server().await else { return };
    let target = on(&server, ToTable::new("crash_sink", ExactlyOnce).await.unwrap()).await;
    let config = SuiteConfig {
        records: 3_000,
        records_per_second: 1_000.0,
        crashes: 1,
        checkpoint_interval: Duration::from_millis(200),
        // Down 3 s: the writer's connects fail at once meanwhile, so the job restarts
        // many times before the server is back (a CI run failed when 7 restarts 100 ms
        // apart ran out while a container restart took longer).
        restart_server: Some(server.restart_hook(Duration::from_secs(3))),
        ..SuiteConfig::default()
    };
    let verdict = run_sink_suite(target.clone(), config).await.unwrap();
    verdict.check(ExactlyOnce).unwrap();
    assert_eq!(target.prepared_left().await, Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_source_survives_an_immediate_shutdown_mid_read() {
    let Some(server) = crashable_server().await else { return };
    let mut target = Arc::unwrap_or_clone(FromTable::new("crash_source", 4).await.unwrap());
    (target.url, target.via, target.page_size) = (server.endpoint().to_string(), server.endpoint().to_string(), 5);
    let create = format!("CREATE TABLE {} (id bigint PRIMARY KEY, body text NOT NULL)", target.table);
    common::client(&target.url).await.batch_execute(&create).await.unwrap();
    let config = SuiteConfig {
        records: 3_000,
        crashes: 1,
        checkpoint_interval: Duration::from_millis(100),
        restart_server: Some(server.restart_hook(Duration::from_millis(500))),
        ..SuiteConfig::default()
    };
    let verdict = run_source_suite(Arc::new(target), config).await.unwrap();
    verdict.check(ExactlyOnce).unwrap();
}

//! The two-phase protocol driven step by step on the server: orphans of a dead
//! attempt (and of subtasks beyond a smaller parallelism) are rolled back at start,
//! other sinks' transactions are left alone, a replayed commit is told apart from a
//! lost transaction by the marker row.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::ToTable;
use connector_base::DeliveryGuarantee::ExactlyOnce;
use connector_jdbc::JdbcSink;
use connector_jdbc::gid::Gid;
use connector_testkit::SinkTarget;
use stream_core::api::{Committer, Sink, SinkWriter, TaskContext};

fn ctx(subtask: usize, parallelism: usize, restored: Option<u64>) -> TaskContext {
    TaskContext {
        stage: "1-sink".into(),
        name: "sink".into(),
        subtask,
        parallelism,
        attempt: 0,
        attempt_id: format!("test-{subtask}"),
        restored_checkpoint: restored,
        ..TaskContext::default()
    }
}

/// A fresh writer of `sink` as subtask `subtask` of `parallelism` (which rolls back
/// that subtask's earlier transactions) that writes `ids` and prepares checkpoint
/// `checkpoint`; its gids.
async fn prepare(sink: &JdbcSink<u64>, subtask: usize, parallelism: usize, checkpoint: u64, ids: &[u64]) -> Vec<Gid> {
    let mut writer = sink.create_writer(&ctx(subtask, parallelism, None), Vec::new()).await.unwrap();
    for id in ids {
        writer.write(*id).await.unwrap();
    }
    writer.flush(false).await.unwrap();
    writer.prepare_commit(checkpoint).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orphans_are_rolled_back_at_start_even_beyond_a_smaller_parallelism() {
    let Some(target) = ToTable::new("orphans", ExactlyOnce).await else { return };
    let sink = target.sink();
    // A run of parallelism 3 prepares checkpoint 5 on every subtask and dies.
    for subtask in 0..3 {
        let gids = prepare(&sink, subtask, 3, 5, &[subtask as u64]).await;
        assert_eq!(gids.len(), 1);
    }
    // Another sink's transaction must stay.
    let other = ToTable::new("orphans_other", ExactlyOnce).await.unwrap();
    let other_gids = prepare(&other.sink(), 0, 1, 5, &[99]).await;
    assert_eq!(target.prepared_left().await.len(), 3);
    // A fresh start of parallelism 1 (no checkpoint): subtask 0 owns all three.
    let _writer = sink.create_writer(&ctx(0, 1, None), Vec::new()).await.unwrap();
    assert_eq!(target.prepared_left().await, Vec::<String>::new());
    assert_eq!(target.read_back().await.unwrap(), Vec::<u64>::new(), "rolled back, not committed");
    assert_eq!(other.prepared_left().await, vec![other_gids[0].text()], "another sink's transaction stays");
    let mut committer = other.sink().create_committer(&ctx(0, 1, None)).await.unwrap();
    committer.commit(&other_gids).await.unwrap();
    assert_eq!(other.read_back().await.unwrap(), vec![99]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_keeps_its_checkpoints_transactions_and_rolls_back_later_ones() {
    let Some(target) = ToTable::new("restore", ExactlyOnce).await else { return };
    let sink = target.sink();
    // One attempt prepares checkpoint 7 (which then completes) and 8, and dies.
    let mut writer = sink.create_writer(&ctx(0, 1, None), Vec::new()).await.unwrap();
    for id in [1, 2] {
        writer.write(id).await.unwrap();
    }
    writer.flush(false).await.unwrap();
    let completed = writer.prepare_commit(7).await.unwrap();
    writer.write(3).await.unwrap();
    writer.flush(false).await.unwrap();
    assert_eq!(writer.prepare_commit(8).await.unwrap().len(), 1);
    drop(writer);
    // Restored from checkpoint 7: its transaction is the committer's, 8's is an orphan.
    let _writer = sink.create_writer(&ctx(0, 1, Some(7)), Vec::new()).await.unwrap();
    assert_eq!(target.prepared_left().await, vec![completed[0].text()]);
    let mut committer = sink.create_committer(&ctx(0, 1, Some(7))).await.unwrap();
    committer.commit(&completed).await.unwrap();
    // Committed again after another crash: the marker says it was.
    committer.commit(&completed).await.unwrap();
    let mut rows = target.read_back().await.unwrap();
    rows.sort();
    assert_eq!(rows, vec![1, 2]);
}

/// The markers of subtask 0 in the sink's marker table, by checkpoint.
async fn markers_left(target: &ToTable) -> Vec<i64> {
    let sql =
        "SELECT checkpoint FROM flink_connectors_rs_jdbc_markers WHERE prefix = $1 AND subtask = 0 ORDER BY checkpoint";
    let rows = common::client(&target.url).await.query(sql, &[&target.prefix]).await.unwrap();
    rows.iter().map(|row| row.get(0)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_replayed_from_a_checkpoint_that_still_held_it_is_found_after_later_commits() {
    let Some(target) = ToTable::new("replayed_older", ExactlyOnce).await else { return };
    let sink = target.sink();
    // Checkpoints 1 and 2 are prepared; checkpoint 2's snapshot was taken before 1's
    // commit ended, so it holds both. Both are committed, then the job dies.
    let mut writer = sink.create_writer(&ctx(0, 1, None), Vec::new()).await.unwrap();
    let mut gids = Vec::new();
    for (checkpoint, id) in [(1, 10), (2, 20)] {
        writer.write(id).await.unwrap();
        writer.flush(false).await.unwrap();
        gids.extend(writer.prepare_commit(checkpoint).await.unwrap());
    }
    drop(writer);
    let mut committer = sink.create_committer(&ctx(0, 1, None)).await.unwrap();
    committer.commit(&gids[..1]).await.unwrap();
    committer.commit(&gids[1..]).await.unwrap();
    // Restored from checkpoint 2: both are committed again and found committed.
    let mut committer = sink.create_committer(&ctx(0, 1, Some(2))).await.unwrap();
    committer.commit(&gids).await.unwrap();
    let mut rows = target.read_back().await.unwrap();
    rows.sort();
    assert_eq!(rows, vec![10, 20]);
    // Once no restorable checkpoint holds checkpoint 1's transaction, its marker goes.
    assert_eq!(markers_left(&target).await, vec![1, 2]);
    committer.forget_before(2).await.unwrap();
    assert_eq!(markers_left(&target).await, vec![2]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_neither_prepared_nor_marked_is_reported_lost() {
    let Some(target) = ToTable::new("lost", ExactlyOnce).await else { return };
    let sink = target.sink();
    let gids = prepare(&sink, 0, 1, 3, &[1]).await;
    // Someone rolls it back by hand: its rows and its marker are gone.
    common::client(&target.url).await.batch_execute(&format!("ROLLBACK PREPARED '{}'", gids[0].text())).await.unwrap();
    let mut committer = sink.create_committer(&ctx(0, 1, Some(3))).await.unwrap();
    let error = committer.commit(&gids).await.unwrap_err().to_string();
    assert!(error.contains(&gids[0].text()) && error.contains("lost"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prepare_whose_answer_was_lost_is_looked_up_not_sent_again() {
    use connector_jdbc::{JdbcSinkBuilder, PgConnection, params};
    use connector_testkit::proxy::FaultProxy;
    use std::time::Duration;
    use stream_core::retry::RetryPolicy;
    let Some(target) = ToTable::new("lost_answer", ExactlyOnce).await else { return };
    // Through a proxy holding every chunk 300 ms: the PREPARE's answer is still in
    // the proxy when the transaction shows up prepared on the server.
    let proxy = FaultProxy::for_endpoint(&target.url).await.unwrap();
    proxy.set_latency(Duration::from_millis(300));
    let connection = PgConnection::new(proxy.endpoint_for(&target.url)).operation_timeout(Duration::from_secs(2));
    let statement = format!("INSERT INTO {} (id) VALUES ($1)", target.table);
    let sink = JdbcSinkBuilder::new(connection, statement, |id: &u64| params![*id as i64])
        .delivery_guarantee(ExactlyOnce)
        .transaction_prefix(&target.prefix)
        .retry(
            RetryPolicy::exponential(Duration::from_millis(100), Duration::from_secs(1))
                .give_up_after(Duration::from_secs(10)),
        )
        .build()
        .unwrap();
    let mut writer = sink.create_writer(&ctx(0, 1, None), Vec::new()).await.unwrap();
    for id in [1, 2, 3] {
        writer.write(id).await.unwrap();
    }
    writer.flush(false).await.unwrap();
    let preparing = tokio::spawn(async move { writer.prepare_commit(4).await });
    // The moment the server has it prepared, the answer on its way back is dropped.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while target.prepared_left().await.is_empty() && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(!target.prepared_left().await.is_empty(), "prepared within 10 s");
    proxy.silence_live();
    proxy.set_latency(Duration::ZERO);
    let gids = tokio::time::timeout(Duration::from_secs(30), preparing).await.expect("no hang").unwrap().unwrap();
    assert_eq!(proxy.stats().silenced, 1, "the answer was lost: {:?}", proxy.stats());
    assert_eq!(target.prepared_left().await, vec![gids[0].text()], "prepared once");
    let mut committer = target.sink().create_committer(&ctx(0, 1, Some(4))).await.unwrap();
    committer.commit(&gids).await.unwrap();
    let mut rows = target.read_back().await.unwrap();
    rows.sort();
    assert_eq!(rows, vec![1, 2, 3]);
}

//! The exactly-once sink's hard case, driven step by step against a real broker: the
//! process dies after checkpoint n completed and before transaction n committed. The
//! transaction is pre-committed by one attempt's writer, that attempt vanishes, and
//! a later attempt's committer (as after a restart) commits the restored committable.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use connector_base::DeliveryGuarantee;
use connector_base::schema::Utf8Schema;
use connector_kafka::{KafkaSink, ValueTo};
use stream_core::api::{Committer, Sink, SinkWriter, TaskContext};

fn ctx(attempt: u32, attempt_id: &str) -> TaskContext {
    TaskContext {
        stage: "1-sink".into(),
        name: "sink".into(),
        subtask: 0,
        parallelism: 1,
        attempt,
        attempt_id: attempt_id.into(),
        restored_checkpoint: None,
    }
}

fn sink(bootstrap: &str, topic: &str) -> KafkaSink<String> {
    KafkaSink::builder(bootstrap, ValueTo::new(topic, Utf8Schema))
        .delivery_guarantee(DeliveryGuarantee::ExactlyOnce)
        .transactional_id_prefix(format!("{topic}-tx"))
        .build()
        .unwrap()
}

async fn visible(bootstrap: &str, topic: &str) -> Vec<String> {
    let (b, t) = (bootstrap.to_string(), topic.to_string());
    let mut values = tokio::task::spawn_blocking(move || common::read_committed(&b, &t, 1)).await.unwrap();
    values.sort();
    values
}

fn expected() -> Vec<String> {
    let mut v: Vec<String> = (0..100).map(|i| format!("record-{i}")).collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_left_uncommitted_by_a_dead_process_is_written_exactly_once() {
    let Some((bootstrap, topic)) = common::topic("hard-case", 1).await else { return };
    let sink = sink(&bootstrap, &topic);
    let mut writer = sink.create_writer(&ctx(0, "dead"), Vec::new()).await.unwrap();
    writer.write_batch(&mut (0..100).map(|i| format!("record-{i}")).collect()).await.unwrap();
    writer.flush(false).await.unwrap();
    let committables = writer.prepare_commit(1).await.unwrap();
    drop(writer); // checkpoint 1 completes, and the process dies before committing
    assert!(visible(&bootstrap, &topic).await.is_empty(), "nothing is visible before the commit");

    let mut restarted = sink.create_committer(&ctx(1, "restarted")).await.unwrap();
    restarted.commit(&committables).await.unwrap();
    assert!(visible(&bootstrap, &topic).await == expected(), "the records appear once after the recovery");

    // The restarted process dies in or after its commit; the next one commits again.
    let mut again = sink.create_committer(&ctx(2, "again")).await.unwrap();
    again.commit(&committables).await.unwrap();
    assert!(visible(&bootstrap, &topic).await == expected(), "a second recovery writes nothing again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_committed_before_the_crash_is_not_written_again() {
    let Some((bootstrap, topic)) = common::topic("committed", 1).await else { return };
    let sink = sink(&bootstrap, &topic);
    let mut writer = sink.create_writer(&ctx(0, "first"), Vec::new()).await.unwrap();
    writer.write_batch(&mut (0..100).map(|i| format!("record-{i}")).collect()).await.unwrap();
    writer.flush(false).await.unwrap();
    let committables = writer.prepare_commit(1).await.unwrap();
    let mut committer = sink.create_committer(&ctx(0, "first")).await.unwrap();
    committer.commit(&committables).await.unwrap();
    drop((writer, committer)); // committed, then the process dies before forgetting it
    assert!(visible(&bootstrap, &topic).await == expected());

    let mut restarted = sink.create_committer(&ctx(1, "restarted")).await.unwrap();
    restarted.commit(&committables).await.unwrap();
    assert!(visible(&bootstrap, &topic).await == expected(), "recovery found the marker and wrote nothing");
}

//! The exactly-once sink's hard case, driven step by step against a real broker: the
//! process dies after checkpoint n completed and before transaction n committed. The
//! transaction is pre-committed by one attempt's writer, that attempt vanishes, and
//! a later attempt's committer (as after a restart) commits the restored committable.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

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
        ..TaskContext::default()
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

fn records(range: std::ops::Range<u32>) -> Vec<String> {
    range.map(|i| format!("record-{i}")).collect()
}

fn expected() -> Vec<String> {
    let mut v = records(0..100);
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

/// Two processes restore the same checkpoint: the first one gets further than the
/// checkpoint (one transaction pre-committed for a checkpoint that never completed,
/// the next one open with records) and is killed; the second must settle everything
/// the first left open, or `read_committed` readers stop at it for the transaction
/// timeout (15 min) and see none of the second process's output.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checkpoint_restored_twice_leaves_no_transaction_open() {
    let Some((bootstrap, topic)) = common::topic("restored-twice", 1).await else { return };
    let sink = sink(&bootstrap, &topic);
    let mut first = sink.create_writer(&ctx(0, "first"), Vec::new()).await.unwrap();
    first.write_batch(&mut records(0..100)).await.unwrap();
    first.flush(false).await.unwrap();
    let checkpoint_1 = first.prepare_commit(1).await.unwrap();
    let state_1 = first.snapshot_state(1).unwrap();
    sink.create_committer(&ctx(0, "first")).await.unwrap().commit(&checkpoint_1).await.unwrap();
    drop(first);

    for process in ["second", "third"] {
        // A new process: attempt 0 again, restored from checkpoint 1.
        sink.create_committer(&ctx(0, process)).await.unwrap().commit(&checkpoint_1).await.unwrap();
        let mut writer = sink.create_writer(&ctx(0, process), state_1.clone()).await.unwrap();
        for checkpoint in 2..5 {
            writer.write_batch(&mut records(100..200)).await.unwrap();
            writer.flush(false).await.unwrap();
            writer.prepare_commit(checkpoint).await.unwrap(); // checkpoint never completes
        }
        writer.write_batch(&mut records(200..300)).await.unwrap();
        writer.flush(false).await.unwrap();
        drop(writer); // killed
    }
    let mut last = sink.create_writer(&ctx(0, "last"), state_1).await.unwrap();
    last.write_batch(&mut records(100..300)).await.unwrap();
    last.flush(false).await.unwrap();
    let checkpoint_2 = last.prepare_commit(2).await.unwrap();
    sink.create_committer(&ctx(0, "last")).await.unwrap().commit(&checkpoint_2).await.unwrap();
    let mut expected = records(0..300);
    expected.sort();
    let seen = visible(&bootstrap, &topic).await;
    assert!(seen == expected, "{} records visible of 300: a transaction of a killed process is still open", seen.len());
}

/// Checkpoints that keep failing leave their transactions waiting; once the pool has
/// no id left that is surely settled, the writer fails instead of fencing one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_fails_clearly_when_every_pooled_id_waits_for_a_commit() {
    let Some((bootstrap, topic)) = common::topic("pool", 1).await else { return };
    let sink = KafkaSink::builder(&bootstrap, ValueTo::new(&topic, Utf8Schema))
        .delivery_guarantee(DeliveryGuarantee::ExactlyOnce)
        .transactional_id_prefix(format!("{topic}-tx"))
        .transactional_id_pool_size(5)
        .build()
        .unwrap();
    let mut writer = sink.create_writer(&ctx(0, "only"), Vec::new()).await.unwrap();
    let mut committer = sink.create_committer(&ctx(0, "only")).await.unwrap();
    // Committed transactions free their ids: many more checkpoints than ids.
    for checkpoint in 1..=12 {
        writer.write_batch(&mut records(0..10)).await.unwrap();
        let committables = writer.prepare_commit(checkpoint).await.unwrap();
        committer.commit(&committables).await.unwrap();
    }
    // Two checkpoints that never complete: 5 - 3 = 2 may wait, the third may not.
    for checkpoint in 13..=14 {
        writer.prepare_commit(checkpoint).await.unwrap();
    }
    let error = writer.prepare_commit(15).await.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(
        error.contains("3 pre-committed transactions") && error.contains("`transactional_id_pool_size`"),
        "{error}"
    );
}

/// Checkpoint ids start again at 1 when a job is started afresh with the same
/// prefix: the marker of the earlier run's checkpoint 1 must not pass for the new
/// run's, or the new run's records of its checkpoint 1 are lost in the hard case.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_run_with_the_same_prefix_does_not_take_an_old_marker_for_its_own() {
    let Some((bootstrap, topic)) = common::topic("fresh-run", 1).await else { return };
    let sink = sink(&bootstrap, &topic);
    let mut earlier = sink.create_writer(&ctx(0, "earlier-run"), Vec::new()).await.unwrap();
    earlier.write_batch(&mut records(0..100)).await.unwrap();
    let committables = earlier.prepare_commit(1).await.unwrap();
    sink.create_committer(&ctx(0, "earlier-run")).await.unwrap().commit(&committables).await.unwrap();
    drop(earlier);

    let mut fresh = sink.create_writer(&ctx(0, "fresh-run"), Vec::new()).await.unwrap();
    fresh.write_batch(&mut records(100..200)).await.unwrap();
    let committables = fresh.prepare_commit(1).await.unwrap();
    drop(fresh); // checkpoint 1 completes, and the process dies before committing
    sink.create_committer(&ctx(1, "fresh-run-restarted")).await.unwrap().commit(&committables).await.unwrap();
    let mut expected = records(0..200);
    expected.sort();
    let seen = visible(&bootstrap, &topic).await;
    assert!(seen == expected, "{} records visible of 200", seen.len());
}

/// The marker of a committed transaction must be found even while another subtask's
/// transaction, pre-committed earlier and never settled, is still open: with one
/// marker partition for all ids, a `read_committed` read stopped in front of that
/// transaction and the records were written a second time. The marker topic exists
/// already with one partition (as one made by an earlier version): the writers add
/// the partitions they need.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_committed_marker_is_found_while_another_subtasks_transaction_is_open() {
    let Some((bootstrap, topic)) = common::topic("hidden-marker", 1).await else { return };
    common::create_named_topic(&bootstrap, &format!("{topic}-tx-commit-markers"), 1).await;
    let sink = sink(&bootstrap, &topic);
    let subtask = |subtask: usize, attempt_id: &str| TaskContext { subtask, parallelism: 2, ..ctx(0, attempt_id) };

    let mut other = sink.create_writer(&subtask(1, "first"), Vec::new()).await.unwrap();
    other.write_batch(&mut records(100..200)).await.unwrap();
    let open = other.prepare_commit(1).await.unwrap(); // pre-committed; its commit never comes
    let mut ours = sink.create_writer(&subtask(0, "first"), Vec::new()).await.unwrap();
    ours.write_batch(&mut records(0..100)).await.unwrap();
    let committed = ours.prepare_commit(1).await.unwrap();
    sink.create_committer(&subtask(0, "first")).await.unwrap().commit(&committed).await.unwrap();
    drop((other, ours)); // the process dies

    // The restarted subtask 0 recovers its committed transaction before subtask 1
    // has fenced the open one.
    sink.create_committer(&subtask(0, "restarted")).await.unwrap().commit(&committed).await.unwrap();
    sink.create_committer(&subtask(1, "restarted")).await.unwrap().commit(&open).await.unwrap();
    let mut expected = records(0..200);
    expected.sort();
    let seen = visible(&bootstrap, &topic).await;
    assert!(seen == expected, "{} records visible of 200 (each once)", seen.len());
}

/// A record as a reader sees it: (value, key, headers, timestamp,
/// partition).
type Seen = (String, Option<Vec<u8>>, Vec<(String, Vec<u8>)>, Option<i64>, i32);

fn read_whole(bootstrap: &str, topic: &str, partitions: i32, isolation: &str) -> Vec<Seen> {
    use connector_kafka::rdkafka::message::{Headers, Message};
    let mut out = common::read_all(bootstrap, topic, partitions, isolation, None, |m| {
        (
            String::from_utf8_lossy(m.payload().unwrap_or_default()).into_owned(),
            m.key().map(<[u8]>::to_vec),
            m.headers()
                .map(|h| h.iter().map(|h| (h.key.to_string(), h.value.unwrap_or_default().to_vec())).collect())
                .unwrap_or_default(),
            m.timestamp().to_millis(),
            m.partition(),
        )
    });
    out.sort();
    out
}

/// Both topics of the test below.
fn read_both(bootstrap: &str, topic: &str, isolation: &str) -> Vec<Seen> {
    let mut both = read_whole(bootstrap, topic, 3, isolation);
    both.extend(read_whole(bootstrap, &format!("{topic}-b"), 3, isolation));
    both
}

/// The hard case on two topics of 3 partitions with keys, headers and timestamps, while another
/// producer writes to the same partitions (so the transaction's offsets have gaps):
/// after recovery every record is visible once, exactly as it was first written and
/// in the partition it first landed in (from the checkpoint: the keyed ones), whether
/// recovery reads the records back from the log (the default) or takes them from the
/// checkpoint.
async fn an_aborted_transaction_is_rewritten_as_it_was(records_in_checkpoint: bool) {
    let Some((bootstrap, topic)) = common::topic("rewritten-whole", 3).await else { return };
    common::create_named_topic(&bootstrap, &format!("{topic}-b"), 3).await;
    let out = topic.clone();
    let serializer = move |i: &u32| -> Result<connector_kafka::ProducerRecord, connector_base::schema::SchemaError> {
        Ok(first_written(&out, *i))
    };
    let sink = KafkaSink::builder(&bootstrap, serializer)
        .delivery_guarantee(DeliveryGuarantee::ExactlyOnce)
        .transactional_id_prefix(format!("{topic}-tx"))
        .records_in_checkpoint(records_in_checkpoint)
        .build()
        .unwrap();
    let plain = common::producer(&bootstrap);
    let mut writer = sink.create_writer(&ctx(0, "dead"), Vec::new()).await.unwrap();
    for chunk in 0..4u32 {
        writer.write_batch(&mut (chunk * 50..chunk * 50 + 50).collect()).await.unwrap();
        writer.flush(false).await.unwrap();
        common::produce(&plain, &topic, (0..10).map(|i| (format!("k{i}"), format!("other-{chunk}-{i}")))).await;
    }
    let committables = writer.prepare_commit(1).await.unwrap();
    drop(writer); // checkpoint 1 completes, and the process dies before committing
    let (b, t) = (bootstrap.clone(), topic.clone());
    let (before, landed) = tokio::task::spawn_blocking(move || {
        (read_both(&b, &t, "read_committed"), read_both(&b, &t, "read_uncommitted"))
    })
    .await
    .unwrap();
    assert!(
        before.iter().all(|s| s.0.starts_with("other-")),
        "nothing of the transaction is visible before the recovery"
    );
    assert_eq!(landed.len(), 240, "a read_uncommitted reader sees both producers' records");
    let landed: std::collections::HashMap<String, i32> = landed.into_iter().map(|s| (s.0, s.4)).collect();

    sink.create_committer(&ctx(1, "restarted")).await.unwrap().commit(&committables).await.unwrap();
    let (b, t) = (bootstrap.clone(), topic.clone());
    let seen: Vec<Seen> = tokio::task::spawn_blocking(move || read_both(&b, &t, "read_committed"))
        .await
        .unwrap()
        .into_iter()
        .filter(|s| s.0.starts_with("record-"))
        .collect();
    assert_eq!(seen.len(), 200, "each record once");
    for (value, key, headers, timestamp, partition) in &seen {
        let i: u32 = value.trim_start_matches("record-").parse().unwrap();
        let first = first_written(&topic, i);
        assert_eq!((key, headers), (&first.key, &first.headers), "{value}");
        if let Some(ts) = first.timestamp_ms {
            assert_eq!(*timestamp, Some(ts), "{value}");
        }
        // From the log every record keeps its partition; from the checkpoint a keyless
        // one is the partitioner's choice again.
        if !records_in_checkpoint || first.key.is_some() {
            assert_eq!(Some(partition), landed.get(value), "{value} stays in the partition it first landed in");
        }
    }
    let partitions: std::collections::BTreeSet<i32> = seen.iter().map(|s| s.4).collect();
    assert!(partitions.len() > 1, "the partitioner spread the records: {partitions:?}");
}

/// Record `i` of the test above, with a key (mostly), headers and a timestamp (half);
/// a quarter go to a second topic.
fn first_written(topic: &str, i: u32) -> connector_kafka::ProducerRecord {
    connector_kafka::ProducerRecord {
        topic: if i % 4 == 3 { format!("{topic}-b") } else { topic.into() },
        partition: None,
        key: (!i.is_multiple_of(5)).then(|| format!("key-{}", i % 7).into_bytes()),
        value: Some(format!("record-{i}").into_bytes()),
        headers: (0..i % 3).map(|h| (format!("h{h}"), vec![i as u8; h as usize])).collect(),
        timestamp_ms: i.is_multiple_of(2).then_some(1_700_000_000_000 + i64::from(i)),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_aborted_transaction_is_read_back_from_the_log_as_it_was() {
    an_aborted_transaction_is_rewritten_as_it_was(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_aborted_transaction_is_rewritten_from_the_checkpoint_as_it_was() {
    an_aborted_transaction_is_rewritten_as_it_was(true).await;
}

/// Records that retention or compaction removed before the restart cannot be written
/// again: recovery fails naming the record and what to do, it does not go on without
/// them. (The committable is made to point past the partition's end, as noida-db
/// has no retention to wait for.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_that_cannot_be_read_back_fails_recovery_naming_it() {
    let Some((bootstrap, topic)) = common::topic("gone", 1).await else { return };
    let sink = sink(&bootstrap, &topic);
    let mut writer = sink.create_writer(&ctx(0, "dead"), Vec::new()).await.unwrap();
    writer.write_batch(&mut records(0..10)).await.unwrap();
    let committables = writer.prepare_commit(1).await.unwrap();
    drop(writer);
    let mut state = serde_json::to_value(&committables[0]).unwrap();
    let runs = &mut state["written"]["runs"];
    assert_eq!(runs.as_array().map(Vec::len), Some(1), "one run on one partition: {runs}");
    runs[0][2] = serde_json::json!(5_000);
    let gone: connector_kafka::sink::KafkaCommittable = serde_json::from_value(state).unwrap();
    let error = sink.create_committer(&ctx(1, "restarted")).await.unwrap().commit(&[gone]).await.unwrap_err();
    let error = error.to_string();
    assert!(error.contains(&format!("{topic}/0 offset 5000")) && error.contains("records_in_checkpoint"), "{error}");
    assert!(error.contains("retention or compaction") && error.contains("broker lost records"), "both causes: {error}");
    assert!(visible(&bootstrap, &topic).await.is_empty(), "nothing half-written is committed");
}

/// A job of 4 subtasks with pools of 8 ids is killed with a transaction pre-committed
/// and one open on ids 6 and 7 of every pool, and restarts with 2 subtasks and pools
/// of 4 (Flink's scale-down): the new writers must fence the old ids beyond their
/// own, or the open transactions hold back every `read_committed` reader of the
/// topic until they time out (15 min; never, on noida-db).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_with_fewer_subtasks_and_a_smaller_pool_leaves_no_transaction_open() {
    let Some((bootstrap, topic)) = common::topic("scale-down", 1).await else { return };
    let sink = |pool: u64| {
        KafkaSink::builder(&bootstrap, ValueTo::new(&topic, Utf8Schema))
            .delivery_guarantee(DeliveryGuarantee::ExactlyOnce)
            .transactional_id_prefix(format!("{topic}-tx"))
            .transactional_id_pool_size(pool)
            .build()
            .unwrap()
    };
    let at = |subtask: usize, parallelism: usize, attempt_id: &str| TaskContext {
        subtask,
        parallelism,
        ..ctx(0, attempt_id)
    };
    let (before, mut states) = (sink(8), Vec::new());
    for subtask in 0..4 {
        let context = at(subtask, 4, "before");
        let mut writer = before.create_writer(&context, Vec::new()).await.unwrap();
        let mut committer = before.create_committer(&context).await.unwrap();
        let first = subtask as u32 * 100;
        // Six completed checkpoints: the sequence reaches the pool's ids 6 and 7.
        for checkpoint in 1..=6 {
            let start = first + (checkpoint - 1) as u32 * 10;
            writer.write_batch(&mut records(start..start + 10)).await.unwrap();
            writer.flush(false).await.unwrap();
            committer.commit(&writer.prepare_commit(checkpoint).await.unwrap()).await.unwrap();
        }
        states.push(writer.snapshot_state(6).unwrap());
        writer.write_batch(&mut records(1_000..1_010)).await.unwrap();
        writer.prepare_commit(7).await.unwrap(); // checkpoint 7 never completes
        writer.write_batch(&mut records(2_000..2_010)).await.unwrap();
        writer.flush(false).await.unwrap();
        drop(writer); // killed, with transactions on ids 6 and 7 left open
    }
    let after = sink(4);
    for subtask in 0..2 {
        // Round robin, as the runtime restores writer states after a rescale.
        let restored: Vec<_> = states.iter().skip(subtask).step_by(2).flatten().cloned().collect();
        let mut writer = after.create_writer(&at(subtask, 2, "after"), restored).await.unwrap();
        let start = 5_000 + subtask as u32 * 10;
        writer.write_batch(&mut records(start..start + 10)).await.unwrap();
        writer.flush(false).await.unwrap();
        let committables = writer.prepare_commit(7).await.unwrap();
        after.create_committer(&at(subtask, 2, "after")).await.unwrap().commit(&committables).await.unwrap();
    }
    let mut expected: Vec<String> = (0..4).flat_map(|s| records(s * 100..s * 100 + 60)).collect();
    expected.extend(records(5_000..5_020));
    expected.sort();
    let seen = visible(&bootstrap, &topic).await;
    assert!(
        seen == expected,
        "{} records visible of {}: a transaction of the old run is still open",
        seen.len(),
        expected.len()
    );
}

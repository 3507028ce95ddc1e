//! The write-ahead mode against the CQL test server: the sink suite with a crash at
//! every protocol point (writer and committer) and with random crashes, each row
//! written once across all attempts (the committer's count: upserts hide a second
//! write in the table), a fresh start that does not trust an earlier run's progress,
//! unset values kept through the checkpoint, and bad options.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::sync::OnceLock;
use std::time::Duration;

use common::{KEYSPACE, Row};
use connector_base::DeliveryGuarantee::ExactlyOnce;
use connector_cassandra::scylla::value::MaybeUnset;
use connector_cassandra::{CassandraSink, WriteAhead};
use connector_testkit::{SuiteConfig, run_sink_suite};
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use stream_core::fault::{Fault, FaultPoint};
use stream_core::prelude::*;

/// The process's metrics (one recorder per test binary).
fn snapshotter() -> &'static Snapshotter {
    static SNAPSHOTTER: OnceLock<Snapshotter> = OnceLock::new();
    SNAPSHOTTER.get_or_init(|| {
        let recorder = DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        metrics::set_global_recorder(recorder).unwrap();
        snapshotter
    })
}

/// The counters `names` of `sink_id` since the last snapshot (a snapshot resets them).
fn counters<const N: usize>(names: [&str; N], sink_id: &str) -> [u64; N] {
    let snapshot = snapshotter().snapshot().into_vec();
    names.map(|name| {
        let found = snapshot.iter().find(|(key, _, _, _)| {
            key.key().name() == name && key.key().labels().any(|l| l.key() == "sink_id" && l.value() == sink_id)
        });
        match found {
            Some((_, _, _, DebugValue::Counter(n))) => *n,
            _ => 0,
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_ahead_writes_each_row_once_with_a_crash_at_every_protocol_point() {
    snapshotter();
    // 100 rows per part: the crash during the commit falls between parts.
    let Some(target) = common::ToTable::write_ahead("wal_points", ExactlyOnce, 100).await else { return };
    // The standard points, with the crash during a commit on whichever subtask
    // commits parts first: here a subtask whose source split is done commits nothing.
    let mut config = SuiteConfig::sink_crash_at_every_point();
    if let Some(faults) = config.faults.as_mut() {
        faults[3] = Fault::new("sink", FaultPoint::DuringCommit).after_faults(3).on_fresh_checkpoint();
    }
    let config = SuiteConfig { records_per_second: 5_000.0, ..config };
    let config_records = config.records;
    let verdict = run_sink_suite(target.clone(), config).await.unwrap();
    assert_eq!(verdict.crashes, 4, "{verdict}");
    verdict.check(ExactlyOnce).unwrap();
    // The table cannot show a second write of a row; the committer's counts can. A
    // part is counted written only after its progress row is, and such a part is
    // never written again: a committer that did not skip written parts after a
    // restore counts more rows than were sent.
    let names = ["cassandra_sink_write_ahead_rows_written_total", "cassandra_sink_write_ahead_rows_skipped_total"];
    let [written, skipped] = counters(names, &target.table);
    assert!(written <= config_records, "{written} rows written for {config_records} sent; {skipped} skipped");
    assert!(written + skipped >= config_records, "{written} rows written and {skipped} skipped");
    assert!(skipped >= 1, "the crash during the commit leaves parts written before it");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_ahead_is_exactly_once_across_random_crashes() {
    let Some(target) = common::ToTable::write_ahead("wal_random", ExactlyOnce, 1_000).await else { return };
    let verdict = run_sink_suite(target, SuiteConfig { records: 3_000, ..SuiteConfig::default() }).await.unwrap();
    assert!(verdict.crashes >= 1, "{verdict}");
    verdict.check(ExactlyOnce).unwrap();
}

use common::run_into as run_job;

fn sink_into(server: &str, table: &str, sink_id: &str) -> CassandraSink<Row> {
    CassandraSink::builder([server.to_string()], format!("INSERT INTO {KEYSPACE}.{table} (id, body) VALUES (?, ?)"))
        .cluster_metadata(false)
        .write_ahead(WriteAhead::new(sink_id, KEYSPACE).part_rows(10))
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_start_does_not_trust_the_progress_of_an_earlier_run() {
    let Some(server) = common::server().await else { return };
    let (first, second) = (common::table(&server, "wal_first").await, common::table(&server, "wal_second").await);
    let sink_id = format!("wal_fresh_{}", fastrand::u32(..));
    let records: Vec<Row> = (0..200).map(|id| (id, format!("body-{id}"))).collect();
    run_job(sink_into(&server, &first, &sink_id), records.clone()).await.unwrap();
    // A new run numbers its checkpoints from 1 again: progress kept from the first
    // run would make it skip them.
    run_job(sink_into(&server, &second, &sink_id), records).await.unwrap();
    for table in [first, second] {
        let ids = common::ids(&server, &table).await;
        assert_eq!(ids.len(), 200, "{table}: {} of 200 rows", ids.len());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_from_an_older_checkpoint_writes_the_reused_checkpoint_ids() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};
    let Some(server) = common::server().await else { return };
    let table = common::table(&server, "wal_older").await;
    let dir = std::env::temp_dir().join(format!("cassandra-wal-older-{}-{}", std::process::id(), fastrand::u32(..)));
    // Each run writes its name into the rows; the rows a run passes to the sink are
    // counted.
    let job = |run: &'static str, passed: Arc<AtomicU64>| {
        let env = StreamEnvironment::builder()
            .parallelism(1)
            .checkpointing(CheckpointConfig::builder().interval(Duration::from_millis(100)).build().unwrap())
            .state_backend(stream_core::state::FsStateBackend::new(&dir).unwrap())
            .build()
            .unwrap();
        let source = CollectionSource::sequence(0..2_000).records_per_second(1_000.0).unwrap();
        let to_row = move |id: u64| {
            passed.fetch_add(1, Ordering::Relaxed);
            (id as i64, format!("{run}-{id}"))
        };
        env.from_source(source, "in").map(to_row).sink_to(sink_into(&server, &table, &table), "cassandra")
    };
    let first = job("first", Arc::default()).start("older-first");
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    first.cancel_and_join().await.unwrap();
    // The two newest checkpoints are lost (the newest may not be committed yet): the
    // next run restores an older one and uses the newer ids again for new rows, while
    // the progress table holds a newer one.
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    let newest = files.split_off(files.len().saturating_sub(2));
    assert_eq!(newest.len(), 2, "{newest:?}");
    newest.iter().for_each(|file| std::fs::remove_file(file).unwrap());
    let passed = Arc::new(AtomicU64::new(0));
    let second = job("second", passed.clone()).execute("older-second");
    tokio::time::timeout(Duration::from_secs(60), second).await.unwrap().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let rows = common::rows(&server, &table).await;
    assert_eq!(rows.len(), 2_000);
    let by_second = rows.iter().filter(|(_, body)| body.starts_with("second-")).count() as u64;
    // Rows of the reused ids that were skipped keep the first run's values.
    assert_eq!(by_second, passed.load(Ordering::Relaxed), "rows the second run wrote, of those it passed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unset_values_pass_through_the_checkpoint_and_keep_what_is_there() {
    let Some(server) = common::server().await else { return };
    let table = common::table(&server, "wal_unset").await;
    let statement = format!("INSERT INTO {KEYSPACE}.{table} (id, body) VALUES (?, ?)");
    let kept: Vec<(i64, MaybeUnset<String>)> =
        vec![(1, MaybeUnset::Set("kept".into())), (2, MaybeUnset::Set("b".into()))];
    let updates: Vec<(i64, MaybeUnset<String>)> = vec![(1, MaybeUnset::Unset), (2, MaybeUnset::Set("new".into()))];
    for (run, records) in [kept, updates].into_iter().enumerate() {
        let sink = CassandraSink::builder([server.clone()], &statement)
            .cluster_metadata(false)
            .write_ahead(WriteAhead::new(format!("{table}_{run}"), KEYSPACE))
            .build()
            .unwrap();
        let env = StreamEnvironment::builder()
            .parallelism(1)
            .checkpointing(CheckpointConfig::builder().interval(Duration::from_millis(100)).build().unwrap())
            .build()
            .unwrap();
        let job = env.from_source(CollectionSource::new(records), "in").sink_to(sink, "cassandra").execute("unset");
        tokio::time::timeout(Duration::from_secs(60), job).await.unwrap().unwrap();
    }
    let rows = common::rows(&server, &table).await;
    assert_eq!(rows, vec![(1, "kept".to_string()), (2, "new".to_string())]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_keyspace_without_replication_is_named_at_start() {
    let Some(server) = common::server().await else { return };
    let table = common::table(&server, "wal_no_keyspace").await;
    let sink = CassandraSink::<Row>::builder(
        [server.clone()],
        format!("INSERT INTO {KEYSPACE}.{table} (id, body) VALUES (?, ?)"),
    )
    .cluster_metadata(false)
    .write_ahead(WriteAhead::new("no_keyspace", "no_such_keyspace"))
    .build()
    .unwrap();
    let error = run_job(sink, vec![(1, "a".into())]).await.expect_err("the progress table cannot be made");
    assert!(error.contains("no_such_keyspace") && error.contains("replication"), "{error}");
}

#[test]
fn bad_write_ahead_options_are_named() {
    let err = |options: WriteAhead| {
        CassandraSink::<Row>::builder(["127.0.0.1:9042"], "INSERT INTO ks.t (id, body) VALUES (?, ?)")
            .write_ahead(options)
            .build()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    };
    assert!(err(WriteAhead::new("", "ks")).contains("`write_ahead.sink_id`"));
    assert!(err(WriteAhead::new("s", "bad-name")).contains("`write_ahead.keyspace`"));
    assert!(err(WriteAhead::new("s", "ks").table("1t")).contains("`write_ahead.table`"));
    assert!(err(WriteAhead::new("s", "ks").replication("3")).contains("`write_ahead.replication`"));
    assert!(err(WriteAhead::new("s", "ks").part_rows(0)).contains("`write_ahead.part_rows`"));
    assert!(
        err(WriteAhead::new("s", "ks").replication("{'class': 'SimpleStrategy', 'replication_factor': 3}")).is_empty()
    );
}

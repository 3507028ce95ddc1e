//! PrometheusSink against Prometheus 2.42, samples read back with a range query and
//! checked one by one. A series per record, parallelism 2, random crashes; and five
//! series written by one subtask with random crashes and with a crash at every writer
//! protocol point, where each restore replays samples Prometheus already has: they
//! are refused as out of order, and the new samples in the same requests must still
//! be written (Prometheus keeps nothing of a request it refuses). 3 000 records a
//! second, batches cut every 30 ms and checkpoints every 300 ms: several requests go
//! out between two checkpoints, and a restore's first requests mix replayed and new
//! samples (with fast checkpoints everything went out at the checkpoints, a replay
//! was cut where the first run was, and a refused request held only replayed
//! samples).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::ToPrometheus;
use connector_base::DeliveryGuarantee::ExactlyOnce;
use connector_testkit::{SuiteConfig, run_sink_suite};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_series_per_record_is_exactly_once_across_crashes() {
    let Some(target) = ToPrometheus::new("own_series", 0).await else { return };
    let verdict = run_sink_suite(target, SuiteConfig { records: 2_000, ..SuiteConfig::default() }).await.unwrap();
    assert!(verdict.crashes >= 1, "{verdict}");
    verdict.check(ExactlyOnce).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replays_into_series_that_moved_on_lose_nothing_across_crashes() {
    let Some(target) = ToPrometheus::new("replays", 5).await else { return };
    let config = SuiteConfig {
        records: 3_000,
        parallelism: 1,
        records_per_second: 3_000.0,
        checkpoint_interval: std::time::Duration::from_millis(300),
        ..SuiteConfig::default()
    };
    let verdict = run_sink_suite(target, config).await.unwrap();
    assert!(verdict.crashes >= 1, "{verdict}");
    verdict.check(ExactlyOnce).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replays_lose_nothing_with_a_crash_at_every_writer_protocol_point() {
    use stream_core::fault::{Fault, FaultPoint};
    let Some(target) = ToPrometheus::new("replay_points", 5).await else { return };
    // The writer's points with one subtask (the suite's own list has subtask 1 for
    // the snapshot, and commit points this sink does not have): after records, then
    // while it snapshots its buffered series.
    let faults = vec![
        Fault::new("records", FaultPoint::AfterRecords(800)),
        Fault::new("sink", FaultPoint::DuringSnapshot).subtask(0).after_faults(1),
    ];
    let config =
        SuiteConfig { records: 3_000, parallelism: 1, crashes: 2, faults: Some(faults), ..SuiteConfig::default() };
    let verdict = run_sink_suite(target, config).await.unwrap();
    assert_eq!(verdict.crashes, 2, "{verdict}");
    verdict.check(ExactlyOnce).unwrap();
}

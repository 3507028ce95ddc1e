//! Formats, bad records and options of the file source.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use connector_base::schema::BadRecordPolicy;
use connector_file::{Csv, FileSource, JsonLines};
use stream_core::fault::{Fault, FaultInjector, FaultPoint};
use stream_core::prelude::*;

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct Order {
    id: u64,
    item: String,
}

fn env(faults: &FaultInjector, parallelism: usize) -> StreamEnvironment {
    StreamEnvironment::builder()
        .parallelism(parallelism)
        .checkpointing(CheckpointConfig::builder().interval(Duration::from_millis(2)).build().unwrap())
        .restart_strategy(RestartStrategy::fixed_delay(3, Duration::ZERO))
        .fault_injector(faults.clone())
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_with_a_header_maps_fields_by_name_also_after_a_mid_file_restore() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("item,id\n");
    for id in 0..3_000 {
        text.push_str(&format!("thing-{id},{id}\n"));
    }
    std::fs::write(dir.path().join("orders.csv"), text).unwrap();
    let faults = FaultInjector::new();
    faults.plant(Fault::new("sink", FaultPoint::AfterCheckpointBeforeCommit));
    faults.plant(Fault::new("orders", FaultPoint::AfterRecords(700)));
    let sink = CollectSink::new();
    let source = FileSource::builder(dir.path(), Csv::<Order>::with_header()).lines_per_batch(7).build().unwrap();
    env(&faults, 1).from_source(source, "orders").sink_to(sink.clone(), "sink").execute("csv").await.unwrap();
    assert_eq!(faults.fired().len(), 2);
    let mut orders = sink.committed();
    orders.sort_by_key(|o| o.id);
    assert_eq!(orders.len(), 3_000);
    assert!(orders.iter().enumerate().all(|(i, o)| o.id == i as u64 && o.item == format!("thing-{i}")));
}

/// A large CSV file split by byte range: every range decodes with the file's header,
/// the line crossing a range boundary is read once, also across crashes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn byte_range_splits_of_a_csv_read_every_row_once_with_the_header() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("item,id\n");
    for id in 0..20_000 {
        text.push_str(&format!("thing-{id},{id}\n"));
    }
    std::fs::write(dir.path().join("orders.csv"), &text).unwrap();
    let faults = FaultInjector::new();
    faults.plant(Fault::new("orders", FaultPoint::AfterRecords(5_000)));
    faults.plant(Fault::new("sink", FaultPoint::AfterCheckpointBeforeCommit));
    let sink = CollectSink::new();
    let source = FileSource::builder(dir.path(), Csv::<Order>::with_header())
        .split_size(4_099) // ~80 ranges, boundaries inside lines
        .lines_per_batch(50)
        .build()
        .unwrap();
    env(&faults, 2).from_source(source, "orders").sink_to(sink.clone(), "sink").execute("csv-ranges").await.unwrap();
    assert_eq!(faults.fired().len(), 2);
    let mut orders = sink.committed();
    orders.sort_by_key(|o| o.id);
    assert_eq!(orders.len(), 20_000, "every row exactly once");
    assert!(orders.iter().enumerate().all(|(i, o)| o.id == i as u64 && o.item == format!("thing-{i}")));
}

fn json_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.jsonl"), "{\"id\":1,\"item\":\"x\"}\nnot json\n{\"id\":2,\"item\":\"y\"}\n")
        .unwrap();
    dir
}

#[tokio::test]
async fn a_bad_line_is_skipped_and_counted_or_fails_naming_file_and_offset() {
    let dir = json_dir();
    let sink = CollectSink::new();
    let source = FileSource::builder(dir.path(), JsonLines::<Order>::default())
        .bad_records(BadRecordPolicy::SkipAndCount)
        .build()
        .unwrap();
    env(&FaultInjector::new(), 1)
        .from_source(source, "json")
        .sink_to(sink.clone(), "sink")
        .execute("skip")
        .await
        .unwrap();
    assert_eq!(sink.committed().iter().map(|o| o.id).collect::<Vec<_>>(), vec![1, 2]);

    let source = FileSource::builder(dir.path(), JsonLines::<Order>::default()).build().unwrap();
    let err = StreamEnvironment::builder()
        .build()
        .unwrap()
        .from_source(source, "json")
        .sink_to(CollectSink::new(), "sink")
        .execute("fail")
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("a.jsonl@20") && err.contains("invalid JSON"), "{err}");
}

#[test]
fn invalid_options_are_rejected_naming_them() {
    let missing = std::env::temp_dir().join("no-such-dir-for-connector-file");
    let err = FileSource::builder(&missing, JsonLines::<Order>::default()).build().err().unwrap().to_string();
    assert!(err.contains("`dir`") && err.contains("no-such-dir-for-connector-file"), "{err}");
    let dir = tempfile::tempdir().unwrap();
    let err = FileSource::builder(dir.path(), JsonLines::<Order>::default())
        .monitor_continuously(Duration::ZERO)
        .build()
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("`monitor_continuously`"), "{err}");
}

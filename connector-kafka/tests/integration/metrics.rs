//! The source's pending-records metric follows librdkafka's statistics: the records
//! of a partition after the reader's position.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use connector_base::schema::Utf8Schema;
use connector_kafka::source::KafkaSplit;
use connector_kafka::{KafkaSource, ValueOnly};
use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use stream_core::api::{ReadStatus, Source, SourceReader, TaskContext};

use crate::common;

/// The gauge `name` of the reader labelled with `job`, if reported.
fn gauge(snapshotter: &metrics_util::debugging::Snapshotter, name: &str, job: &str) -> Option<f64> {
    snapshotter.snapshot().into_vec().into_iter().find_map(|(key, _, _, value)| {
        let labelled = key.key().labels().any(|l| l.key() == "job" && l.value() == job);
        match value {
            DebugValue::Gauge(v) if key.key().name() == name && labelled => Some(v.into_inner()),
            _ => None,
        }
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn pending_records_are_the_records_after_the_readers_position() {
    let Some((bootstrap, topic)) = common::topic("pending", 1).await else { return };
    common::produce_fast(&bootstrap, &topic, (0..1_000).map(|i| format!("value-{i}")));
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::set_global_recorder(recorder).unwrap();

    let source = KafkaSource::builder(&bootstrap, ValueOnly(Utf8Schema))
        .topics([&topic])
        .max_records_per_poll(10)
        .property("statistics.interval.ms", "100")
        .build()
        .unwrap();
    let ctx =
        TaskContext { job: "pending-test".into(), name: "source".into(), connector: "kafka", ..TaskContext::default() };
    let mut reader = source.create_reader(&ctx).await.unwrap();
    reader.add_splits(vec![KafkaSplit { topic: topic.clone(), partition: 0, offset: 0, stop: None }]);
    // Read slowly; librdkafka's statistics (served while the consumer is polled)
    // report the records after the position at some moment since the last look, so
    // each value lies between what was unread then and what is unread now. (The
    // debugging recorder hands out a gauge once, so 0 means "not reported".)
    let mut out = Vec::new();
    let mut reported = Vec::new();
    let mut unread_before = 1_000.0;
    while out.len() < 1_000 {
        let status = reader.poll_next(&mut out).await.unwrap();
        assert_ne!(status, ReadStatus::Finished);
        let unread_now = (1_000 - out.len()) as f64;
        if let Some(pending) = gauge(&snapshotter, "connector_source_pending_records", "pending-test")
            && pending > 0.0
        {
            assert!(
                (unread_now..=unread_before).contains(&pending),
                "{pending} pending reported while {unread_before} to {unread_now} were unread"
            );
            reported.push(pending);
        }
        unread_before = unread_now;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(reported.len() >= 5, "pending records reported while reading: {reported:?}");
    let lag = gauge(&snapshotter, "connector_source_fetch_lag_seconds", "pending-test");
    assert!(lag.is_some(), "fetch lag reported");
}

//! Metrics reach the `metrics` facade and the in-process snapshot.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use stream_core::prelude::*;

#[test]
fn records_checkpoints_and_restarts_are_reported() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let faults = stream_core::fault::FaultInjector::new();
            faults.plant(stream_core::fault::Fault::new("sink", stream_core::fault::FaultPoint::AfterRecords(500)));
            let env = StreamEnvironment::builder()
                .checkpointing(CheckpointConfig::builder().interval(Duration::from_millis(10)).build().unwrap())
                .restart_strategy(RestartStrategy::fixed_delay(1, Duration::ZERO))
                .fault_injector(faults)
                .batch_size(50)
                .build()
                .unwrap();
            let result = env
                .from_source(CollectionSource::sequence(0..2_000).records_per_second(20_000.0).unwrap(), "numbers")
                .map(|x| x + 1)
                .sink_to(CollectSink::new(), "sink")
                .execute("metrics")
                .await
                .unwrap();
            let m = &result.metrics;
            assert_eq!(m.restarts, 1);
            assert!(m.checkpoints_completed >= 2);
            assert!(m.last_checkpoint_bytes > 0);
            let sink = m.stages.iter().find(|(name, _, _)| name == "sink").unwrap();
            assert!(sink.1 >= 2_000, "the sink saw every record at least once: {sink:?}");
        });
    });
    let values = snapshotter.snapshot().into_vec();
    let counter = |name: &str| -> u64 {
        values
            .iter()
            .filter(|(key, _, _, _)| key.key().name() == name)
            .map(|(_, _, _, value)| match value {
                DebugValue::Counter(c) => *c,
                _ => 0,
            })
            .sum()
    };
    assert!(counter("stream_records_out_total") >= 2_000);
    assert!(counter("stream_records_in_total") >= 2_000);
    assert!(counter("stream_checkpoints_completed_total") >= 2);
    assert_eq!(counter("stream_restarts_total"), 1);
    assert!(values.iter().any(|(key, _, _, _)| key.key().name() == "stream_checkpoint_duration_seconds"));

    // Connector metrics carry the job, stage, subtask and connector labels.
    let labelled = |name: &str, stage: &str, connector: &str| -> u64 {
        values
            .iter()
            .filter(|(key, _, _, _)| {
                let labels: Vec<(&str, &str)> = key.key().labels().map(|l| (l.key(), l.value())).collect();
                key.key().name() == name
                    && labels.contains(&("job", "metrics"))
                    && labels.contains(&("stage", stage))
                    && labels.contains(&("subtask", "0"))
                    && labels.contains(&("connector", connector))
            })
            .map(|(_, _, _, value)| match value {
                DebugValue::Counter(c) => *c,
                _ => 0,
            })
            .sum()
    };
    assert!(labelled("connector_source_records_in_total", "numbers", "collection") >= 2_000);
    assert!(labelled("connector_sink_records_out_total", "sink", "collect") >= 2_000);
    assert!(labelled("connector_sink_commits_succeeded_total", "sink", "collect") >= 2);
    assert_eq!(labelled("connector_sink_commits_failed_total", "sink", "collect"), 0);
    let job_labelled = values.iter().any(|(key, _, _, _)| {
        key.key().name() == "stream_restarts_total"
            && key.key().labels().any(|l| l.key() == "job" && l.value() == "metrics")
    });
    assert!(job_labelled, "job metrics carry the job label");
}

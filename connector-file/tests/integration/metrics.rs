//! The file source and sink report the bytes they read and write (FLIP-33's
//! numBytesIn/numBytesOut) under the job, stage, subtask and connector labels.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use connector_file::{FileSink, FileSource, LineEncoder, TextLines};
use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use stream_core::prelude::*;

#[test]
fn bytes_read_and_written_are_counted() {
    let (input, output) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let text: String = (0..1_000).map(|i| format!("line {i}\n")).collect();
    std::fs::write(input.path().join("lines.txt"), &text).unwrap();
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let source = FileSource::builder(input.path(), TextLines).lines_per_batch(64).build().unwrap();
            let sink = FileSink::builder(output.path(), LineEncoder).build().unwrap();
            StreamEnvironment::builder()
                .checkpointing(CheckpointConfig::builder().interval(Duration::from_millis(20)).build().unwrap())
                .build()
                .unwrap()
                .from_source(source, "lines")
                .sink_to(sink, "files")
                .execute("file-metrics")
                .await
                .unwrap();
        });
    });
    let values = snapshotter.snapshot().into_vec();
    let counter = |name: &str, stage: &str| -> u64 {
        values
            .iter()
            .filter(|(key, _, _, _)| {
                let labels: Vec<(&str, &str)> = key.key().labels().map(|l| (l.key(), l.value())).collect();
                key.key().name() == name
                    && labels.contains(&("job", "file-metrics"))
                    && labels.contains(&("stage", stage))
                    && labels.contains(&("connector", "file"))
            })
            .map(|(_, _, _, value)| match value {
                DebugValue::Counter(n) => *n,
                _ => 0,
            })
            .sum()
    };
    assert_eq!(counter("connector_source_bytes_in_total", "lines"), text.len() as u64);
    assert_eq!(counter("connector_sink_bytes_out_total", "files"), text.len() as u64);
    assert_eq!(counter("connector_source_records_in_total", "lines"), 1_000);
    assert_eq!(counter("connector_sink_records_out_total", "files"), 1_000);
}

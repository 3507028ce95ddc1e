//! FileSink: exactly-once through the testkit sink suite with crashes in every
//! protocol phase, no hidden part file left behind, rolling and buckets.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use connector_base::DeliveryGuarantee;
use connector_file::{BucketAssigner, FileSink, LineEncoder, RollingPolicy};
use connector_testkit::{SinkTarget, SuiteConfig, TestkitError, run_sink_suite};
use stream_core::prelude::*;

use common::files;

fn visible_lines(dir: &Path) -> Vec<String> {
    files(dir)
        .into_iter()
        .filter(|(_, hidden)| !hidden)
        .flat_map(|(p, _)| {
            std::fs::read_to_string(dir.join(p)).unwrap().lines().map(str::to_string).collect::<Vec<_>>()
        })
        .collect()
}

struct Target(tempfile::TempDir);

impl SinkTarget for Target {
    type Record = String;
    type Sink = FileSink<String>;

    fn guarantee(&self) -> DeliveryGuarantee {
        DeliveryGuarantee::ExactlyOnce
    }

    fn record(&self, id: u64) -> String {
        format!("record-{id}")
    }

    fn sink(&self) -> FileSink<String> {
        let rolling = RollingPolicy { max_part_size: 4_096, ..RollingPolicy::default() };
        FileSink::builder(self.0.path(), LineEncoder).rolling_policy(rolling).build().unwrap()
    }

    async fn read_back(&self) -> Result<Vec<u64>, TestkitError> {
        Ok(visible_lines(self.0.path()).iter().map(|l| l.trim_start_matches("record-").parse().unwrap()).collect())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_sink_is_exactly_once_across_crashes_in_every_phase() {
    let target = Arc::new(Target(tempfile::tempdir().unwrap()));
    let verdict = run_sink_suite(target.clone(), SuiteConfig { crashes: 4, ..SuiteConfig::default() }).await.unwrap();
    assert!(verdict.crashes >= 1, "{verdict}");
    verdict.check(DeliveryGuarantee::ExactlyOnce).unwrap();
    let hidden: Vec<PathBuf> = files(target.0.path()).into_iter().filter(|(_, h)| *h).map(|(p, _)| p).collect();
    assert!(hidden.is_empty(), "part files of dead attempts must be cleaned up, the rest committed: {hidden:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parts_roll_by_size_and_records_go_to_their_buckets() {
    let dir = tempfile::tempdir().unwrap();
    let sink = FileSink::builder(dir.path(), LineEncoder)
        .buckets(BucketAssigner::Function(Arc::new(|line: &String| format!("bucket-{}", line.len() % 3))))
        .rolling_policy(RollingPolicy { max_part_size: 2_000, ..RollingPolicy::default() })
        .build()
        .unwrap();
    StreamEnvironment::builder()
        .parallelism(2)
        .build()
        .unwrap()
        .from_source(CollectionSource::sequence(0..5_000), "numbers")
        .map(|x| format!("line {x}"))
        .sink_to(sink, "files")
        .execute("roll")
        .await
        .unwrap();
    let all = files(dir.path());
    assert!(all.iter().all(|(_, hidden)| !hidden));
    let buckets: std::collections::BTreeSet<String> =
        all.iter().map(|(p, _)| p.parent().unwrap().display().to_string()).collect();
    assert_eq!(buckets.len(), 3, "{buckets:?}");
    assert!(all.len() > 20, "2 000-byte parts must roll: {} files", all.len());
    for (path, _) in &all {
        let bucket = path.parent().unwrap().display().to_string();
        for line in std::fs::read_to_string(dir.path().join(path)).unwrap().lines() {
            assert_eq!(bucket, format!("bucket-{}", line.len() % 3));
        }
    }
    let mut lines = visible_lines(dir.path());
    lines.sort();
    let mut expected: Vec<String> = (0..5_000).map(|x| format!("line {x}")).collect();
    expected.sort();
    assert!(lines == expected, "every line once ({} lines)", lines.len());
}

#[test]
fn invalid_sink_options_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let err = FileSink::<String>::builder(dir.path(), LineEncoder)
        .buckets(BucketAssigner::DateTime("%Y/%m".into()))
        .build()
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("`buckets` = %Y/%m"), "{err}");
    let err = FileSink::<String>::builder(dir.path(), LineEncoder)
        .rolling_policy(RollingPolicy { max_part_size: 0, ..RollingPolicy::default() })
        .build()
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("`max_part_size` = 0"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_sink_survives_a_crash_at_every_protocol_point() {
    let target = Arc::new(Target(tempfile::tempdir().unwrap()));
    let config = SuiteConfig::sink_crash_at_every_point();
    let verdict = run_sink_suite(target.clone(), config).await.unwrap();
    assert_eq!(verdict.crashes, 4, "{verdict}");
    verdict.check(DeliveryGuarantee::ExactlyOnce).unwrap();
    assert!(files(target.0.path()).iter().all(|(_, hidden)| !hidden));
}

/// Files a job writes in about 1.2 s of 50-ms checkpoints with `rolling`, with the
/// number of checkpoints it completed.
async fn files_written_with(rolling: RollingPolicy) -> (Vec<PathBuf>, u64) {
    let dir = tempfile::tempdir().unwrap();
    let sink =
        FileSink::builder(dir.path(), LineEncoder).buckets(BucketAssigner::Single).rolling_policy(rolling).build();
    let checkpoints = CheckpointConfig::builder().interval(std::time::Duration::from_millis(50)).build().unwrap();
    let result = StreamEnvironment::builder()
        .checkpointing(checkpoints)
        .parallelism(2)
        .build()
        .unwrap()
        .from_source(CollectionSource::sequence(0..6_000).records_per_second(5_000.0).unwrap(), "numbers")
        .map(|x| format!("line {x}"))
        .sink_to(sink.unwrap(), "files")
        .execute("parts")
        .await
        .unwrap();
    let mut lines = visible_lines(dir.path());
    lines.sort();
    let mut expected: Vec<String> = (0..6_000).map(|x| format!("line {x}")).collect();
    expected.sort();
    assert!(lines == expected, "every line once ({} lines)", lines.len());
    let all = files(dir.path());
    assert!(all.iter().all(|(_, hidden)| !hidden), "{all:?}");
    (all.into_iter().map(|(p, _)| p).collect(), result.metrics.checkpoints_completed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_row_part_stays_open_across_checkpoints_until_the_rolling_policy_closes_it() {
    // Flink's default policy: nothing rolls within a second, so each subtask writes
    // one part over all checkpoints, closed by the end of the input.
    let (files, checkpoints) = files_written_with(RollingPolicy::default()).await;
    assert!(checkpoints >= 10, "{checkpoints} checkpoints");
    assert_eq!(files.len(), 2, "one part per subtask across {checkpoints} checkpoints: {files:?}");
    // Open at most 300 ms: a few parts per subtask, far fewer than checkpoints.
    let rolling =
        RollingPolicy { rollover_interval: std::time::Duration::from_millis(300), ..RollingPolicy::default() };
    let (files, checkpoints) = files_written_with(rolling).await;
    assert!(
        (6..=14).contains(&files.len()) && (files.len() as u64) < checkpoints,
        "parts roll about every 300 ms: {} files, {checkpoints} checkpoints",
        files.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_minute_of_200_ms_checkpoints_writes_one_file_per_subtask_per_rolling_period() {
    let dir = tempfile::tempdir().unwrap();
    let period = std::time::Duration::from_secs(20);
    let rolling = RollingPolicy { rollover_interval: period, ..RollingPolicy::default() };
    let sink = FileSink::builder(dir.path(), LineEncoder)
        .buckets(BucketAssigner::Single)
        .rolling_policy(rolling)
        .build()
        .unwrap();
    let checkpoints = CheckpointConfig::builder().interval(std::time::Duration::from_millis(200)).build().unwrap();
    // 60 s of input at 500 records/s.
    let result = StreamEnvironment::builder()
        .checkpointing(checkpoints)
        .parallelism(2)
        .build()
        .unwrap()
        .from_source(CollectionSource::sequence(0..30_000).records_per_second(500.0).unwrap(), "numbers")
        .map(|x| format!("line {x}"))
        .sink_to(sink, "files")
        .execute("a-minute")
        .await
        .unwrap();
    let checkpoints = result.metrics.checkpoints_completed;
    let all = files(dir.path());
    assert!(all.iter().all(|(_, hidden)| !hidden), "{all:?}");
    assert_eq!(visible_lines(dir.path()).len(), 30_000);
    for subtask in 0..2 {
        // `part-<run>-<attempt>-<subtask>-<n>.txt`
        let of_subtask = |p: &PathBuf| p.to_string_lossy().split('-').nth(3) == Some(&subtask.to_string());
        let parts = all.iter().filter(|(p, _)| of_subtask(p)).count();
        // Rolled at about 20 s and 40 s, the rest closed at the end (60 s): 3, or 4
        // when the end comes just after a roll; never one per checkpoint.
        assert!((3..=4).contains(&parts), "subtask {subtask}: {parts} parts over {checkpoints} checkpoints: {all:?}");
    }
    assert!(checkpoints >= 200, "{checkpoints} checkpoints in a minute");
}

//! A source that can read only a window of records ahead of its last completed
//! checkpoint (a broker's prefetch window acknowledged at checkpoints) asks for the
//! next checkpoint before the interval, and the job goes on at once instead of
//! stalling until the interval.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::time::Duration;

use stream_core::api::{Boundedness, ReadStatus, Source, SourceReader, TaskContext};
use stream_core::builtin::{CollectionEnumerator, CollectionSplit};
use stream_core::prelude::*;
use stream_core::{JobResult, Result};

/// Numbers `0..count`, at most `window` of them emitted and not yet covered by a
/// completed checkpoint; `asks` says whether the reader asks for checkpoints.
struct WindowedSource {
    count: u64,
    window: u64,
    asks: bool,
}

impl Source for WindowedSource {
    type Output = u64;
    type Split = CollectionSplit;
    type EnumeratorState = Vec<CollectionSplit>;
    type Enumerator = CollectionEnumerator;
    type Reader = WindowedReader;

    fn boundedness(&self) -> Boundedness {
        Boundedness::Bounded
    }

    async fn create_enumerator(&self, _: usize, restored: Option<Vec<CollectionSplit>>) -> Result<Self::Enumerator> {
        let splits = restored.unwrap_or_else(|| vec![CollectionSplit { start: 0, next: 0, end: self.count }]);
        Ok(CollectionEnumerator::new(splits))
    }

    async fn create_reader(&self, _: &TaskContext) -> Result<WindowedReader> {
        Ok(WindowedReader {
            window: self.window,
            asks: self.asks,
            split: None,
            no_more_splits: false,
            emitted: 0,
            snapshotted: 0,
            acknowledged: 0,
            by_checkpoint: BTreeMap::new(),
        })
    }
}

struct WindowedReader {
    window: u64,
    asks: bool,
    split: Option<CollectionSplit>,
    no_more_splits: bool,
    emitted: u64,
    /// `emitted` at the last snapshot.
    snapshotted: u64,
    /// `emitted` at the last completed checkpoint's snapshot.
    acknowledged: u64,
    by_checkpoint: BTreeMap<u64, u64>,
}

impl SourceReader for WindowedReader {
    type Output = u64;
    type Split = CollectionSplit;

    fn add_splits(&mut self, splits: Vec<CollectionSplit>) {
        self.split = splits.into_iter().next();
    }

    fn notify_no_more_splits(&mut self) {
        self.no_more_splits = true;
    }

    async fn poll_next(&mut self, out: &mut Vec<u64>) -> Result<ReadStatus> {
        let Some(split) = self.split.as_mut() else {
            return Ok(if self.no_more_splits { ReadStatus::Finished } else { ReadStatus::NeedSplits });
        };
        if split.next == split.end {
            self.split = None;
            return Ok(ReadStatus::NeedSplits);
        }
        let room = self.window - (self.emitted - self.acknowledged);
        let n = room.min(50).min(split.end - split.next);
        if n == 0 {
            return Ok(ReadStatus::NothingAvailable);
        }
        out.extend(split.next..split.next + n);
        split.next += n;
        self.emitted += n;
        Ok(ReadStatus::MoreAvailable)
    }

    fn wants_checkpoint(&self) -> bool {
        self.asks && self.emitted - self.snapshotted >= self.window / 2
    }

    fn snapshot_state(&mut self, checkpoint_id: u64) -> Result<Vec<CollectionSplit>> {
        self.snapshotted = self.emitted;
        self.by_checkpoint.insert(checkpoint_id, self.emitted);
        Ok(self.split.iter().cloned().collect())
    }

    async fn notify_checkpoint_complete(&mut self, checkpoint_id: u64) -> Result<()> {
        let newer = self.by_checkpoint.split_off(&(checkpoint_id + 1));
        let covered = std::mem::replace(&mut self.by_checkpoint, newer);
        self.acknowledged = covered.into_values().fold(self.acknowledged, u64::max);
        Ok(())
    }
}

fn job(asks: bool, sink: &CollectSink<u64>) -> impl std::future::Future<Output = Result<JobResult>> {
    let config = CheckpointConfig::builder().interval(Duration::from_secs(3600)).build().unwrap();
    let env = StreamEnvironment::builder().checkpointing(config).parallelism(1).build().unwrap();
    let source = WindowedSource { count: 2_000, window: 100, asks };
    env.from_source(source, "windowed").sink_to(sink.clone(), "sink").execute("early-checkpoints")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_that_wants_a_checkpoint_gets_one_before_the_interval() {
    let sink = CollectSink::new();
    let result = tokio::time::timeout(Duration::from_secs(30), job(true, &sink)).await.expect("the job stalled");
    let result = result.unwrap();
    assert_eq!(sink.committed(), (0..2_000).collect::<Vec<u64>>());
    // 2 000 records through a window of 100, asked for at every 50: one checkpoint
    // per 50 to 100 records, none of them from the hour-long interval.
    assert!(result.metrics.checkpoints_completed >= 20, "{:?}", result.metrics.checkpoints_completed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_that_does_not_ask_waits_for_the_interval() {
    let sink = CollectSink::new();
    let stalled = tokio::time::timeout(Duration::from_secs(2), job(false, &sink)).await;
    assert!(stalled.is_err(), "without asking, the window holds the job until the hour-long interval");
}

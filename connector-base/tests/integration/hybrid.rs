//! The Hybrid source: exactly-once across crashes (also around the switch), and every
//! record of the first source before any of the second.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use connector_base::{DataGenSource, DeliveryGuarantee, HybridSource};
use connector_testkit::{SourceTarget, SuiteConfig, TestkitError, run_source_suite};
use stream_core::Result;
use stream_core::api::{Boundedness, ReadStatus, Source, SourceReader, TaskContext};
use stream_core::builtin::{CollectionEnumerator, CollectionReader, CollectionSplit};
use stream_core::fault::{Fault, FaultInjector, FaultPoint};
use stream_core::prelude::*;

struct HybridTarget(Mutex<Vec<u64>>);

impl SourceTarget for HybridTarget {
    type Source = HybridSource<CollectionSource<u64>, CollectionSource<u64>>;
    fn guarantee(&self) -> DeliveryGuarantee {
        DeliveryGuarantee::ExactlyOnce
    }
    async fn prepare(&self, ids: &[u64]) -> Result<(), TestkitError> {
        self.0.lock().unwrap().extend_from_slice(ids);
        Ok(())
    }
    fn source(&self, _bounded: bool) -> Self::Source {
        let ids = self.0.lock().unwrap().clone();
        let (history, live) = ids.split_at(ids.len() / 2);
        let part = |v: &[u64]| CollectionSource::new(v.to_vec()).records_per_second(15_000.0).unwrap();
        HybridSource::new(part(history), part(live)).unwrap()
    }
    fn id_of(&self, record: &u64) -> u64 {
        *record
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hybrid_source_is_exactly_once_across_crashes() {
    let target = Arc::new(HybridTarget(Mutex::new(Vec::new())));
    let verdict =
        run_source_suite(target, SuiteConfig { records: 3_000, crashes: 3, ..SuiteConfig::default() }).await.unwrap();
    assert!(verdict.crashes >= 1, "{verdict}");
    verdict.check(DeliveryGuarantee::ExactlyOnce).unwrap();
}

async fn run_ordered(faults: FaultInjector) -> Vec<u64> {
    let env = StreamEnvironment::builder()
        .checkpointing(CheckpointConfig::builder().interval(Duration::from_millis(20)).build().unwrap())
        .restart_strategy(RestartStrategy::fixed_delay(3, Duration::ZERO))
        .batch_size(50)
        .fault_injector(faults)
        .build()
        .unwrap();
    let history = CollectionSource::sequence(0..2_000).records_per_second(20_000.0).unwrap();
    let live = DataGenSource::new(|i| 2_000 + i).rows(2_000).records_per_second(20_000.0).unwrap();
    let sink = CollectSink::new();
    env.from_source(HybridSource::new(history, live).unwrap(), "hybrid")
        .sink_to(sink.clone(), "sink")
        .execute("hybrid")
        .await
        .unwrap();
    sink.committed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_record_of_the_first_source_comes_before_the_second_even_with_a_crash_after_the_switch() {
    let out = run_ordered(FaultInjector::new()).await;
    assert_eq!(out, (0..4_000).collect::<Vec<u64>>());

    let faults = FaultInjector::new();
    faults.plant(Fault::new("hybrid", FaultPoint::AfterRecords(2_600)));
    let out = run_ordered(faults.clone()).await;
    assert_eq!(faults.fired().len(), 1);
    assert_eq!(out, (0..4_000).collect::<Vec<u64>>(), "in order, once each, across a crash after the switch");
}

#[test]
fn an_unbounded_first_source_is_rejected() {
    let err = HybridSource::new(DataGenSource::new(|i| i), CollectionSource::sequence(0..1)).err().unwrap();
    assert!(err.to_string().contains("must end"), "{err}");
}

/// A collection source whose readers ask for a checkpoint after every poll.
struct Asking(CollectionSource<u64>);

struct AskingReader(CollectionReader<u64>);

impl Source for Asking {
    type Output = u64;
    type Split = CollectionSplit;
    type EnumeratorState = Vec<CollectionSplit>;
    type Enumerator = CollectionEnumerator;
    type Reader = AskingReader;

    fn boundedness(&self) -> Boundedness {
        Boundedness::Bounded
    }

    async fn create_enumerator(
        &self,
        p: usize,
        restored: Option<Vec<CollectionSplit>>,
    ) -> Result<CollectionEnumerator> {
        self.0.create_enumerator(p, restored).await
    }

    async fn create_reader(&self, ctx: &TaskContext) -> Result<AskingReader> {
        Ok(AskingReader(self.0.create_reader(ctx).await?))
    }
}

impl SourceReader for AskingReader {
    type Output = u64;
    type Split = CollectionSplit;

    fn add_splits(&mut self, splits: Vec<CollectionSplit>) {
        self.0.add_splits(splits)
    }

    fn notify_no_more_splits(&mut self) {
        self.0.notify_no_more_splits()
    }

    async fn poll_next(&mut self, out: &mut Vec<u64>) -> Result<ReadStatus> {
        self.0.poll_next(out).await
    }

    fn wants_checkpoint(&self) -> bool {
        true
    }

    fn snapshot_state(&mut self, checkpoint_id: u64) -> Result<Vec<CollectionSplit>> {
        self.0.snapshot_state(checkpoint_id)
    }
}

/// Checkpoints completed by a hybrid job under an hour-long interval.
async fn checkpoints_of<S1, S2>(hybrid: HybridSource<S1, S2>) -> u64
where
    S1: Source<Output = u64>,
    S2: Source<Output = u64>,
{
    let config = CheckpointConfig::builder().interval(Duration::from_secs(3_600)).build().unwrap();
    let env = StreamEnvironment::builder().checkpointing(config).batch_size(50).build().unwrap();
    let result = env.from_source(hybrid, "hybrid").sink_to(DiscardingSink::new(), "sink").execute("asking").await;
    result.unwrap().metrics.checkpoints_completed
}

/// The hybrid reader passes on the reader that reads now asking for a checkpoint
/// (`SourceReader::wants_checkpoint`), before and after the switch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reading_reader_asks_for_checkpoints_before_and_after_the_switch() {
    let numbers = || CollectionSource::sequence(0..1_000).records_per_second(10_000.0).unwrap();
    let before = checkpoints_of(HybridSource::new(Asking(numbers()), numbers()).unwrap()).await;
    let after = checkpoints_of(HybridSource::new(numbers(), Asking(numbers())).unwrap()).await;
    let neither = checkpoints_of(HybridSource::new(numbers(), numbers()).unwrap()).await;
    // 100 ms of asking readers: a checkpoint after nearly every poll.
    assert!(before >= 5 && after >= 5, "checkpoints asked for before the switch: {before}, after: {after}");
    assert_eq!(neither, 1, "only the final checkpoint when no reader asks");
}

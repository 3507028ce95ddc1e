//! The suites pass correct connectors and catch deliberately broken ones.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};

use connector_base::DeliveryGuarantee;
use connector_testkit::{SinkTarget, SourceTarget, SuiteConfig, TestkitError, run_sink_suite, run_source_suite};
use stream_core::api::{Boundedness, NoCommitter, ReadStatus, Sink, SinkWriter, Source, SourceReader, TaskContext};
use stream_core::builtin::{CollectSink, CollectionEnumerator, CollectionReader, CollectionSource, CollectionSplit};
use stream_core::fault::{Fault, FaultPoint};

/// The "external system" of the broken sinks.
#[derive(Clone, Default)]
struct Store(Arc<Mutex<Vec<u64>>>);

impl Store {
    fn append(&self, ids: &[u64]) {
        self.0.lock().unwrap().extend_from_slice(ids);
    }
    fn ids(&self) -> Vec<u64> {
        self.0.lock().unwrap().clone()
    }
}

// ---- a correct two-phase sink --------------------------------------------------

struct CollectTarget(CollectSink<u64>);

impl SinkTarget for CollectTarget {
    type Record = u64;
    type Sink = CollectSink<u64>;
    fn guarantee(&self) -> DeliveryGuarantee {
        DeliveryGuarantee::ExactlyOnce
    }
    fn record(&self, id: u64) -> u64 {
        id
    }
    fn sink(&self) -> CollectSink<u64> {
        self.0.clone()
    }
    async fn read_back(&self) -> Result<Vec<u64>, TestkitError> {
        Ok(self.0.committed())
    }
}

// ---- broken: commits at pre-commit, before the checkpoint completes --------------

#[derive(Clone)]
struct EarlyCommitSink(Store);
struct EarlyWriter(Store, Vec<u64>);

impl Sink<u64> for EarlyCommitSink {
    type Committable = ();
    type WriterState = ();
    type Writer = EarlyWriter;
    type Committer = NoCommitter<()>;
    async fn create_writer(&self, _: &TaskContext, _: Vec<()>) -> stream_core::Result<EarlyWriter> {
        Ok(EarlyWriter(self.0.clone(), Vec::new()))
    }
    async fn create_committer(&self, _: &TaskContext) -> stream_core::Result<NoCommitter<()>> {
        Ok(NoCommitter::default())
    }
}

impl SinkWriter<u64> for EarlyWriter {
    type Committable = ();
    type State = ();
    async fn write(&mut self, id: u64) -> stream_core::Result<()> {
        self.1.push(id);
        Ok(())
    }
    async fn flush(&mut self, end: bool) -> stream_core::Result<()> {
        if end {
            self.0.append(&std::mem::take(&mut self.1));
        }
        Ok(())
    }
    async fn prepare_commit(&mut self, _: u64) -> stream_core::Result<Vec<()>> {
        // BUG: visible before the checkpoint is complete.
        self.0.append(&std::mem::take(&mut self.1));
        Ok(Vec::new())
    }
}

struct EarlyCommitTarget(Store);

impl SinkTarget for EarlyCommitTarget {
    type Record = u64;
    type Sink = EarlyCommitSink;
    fn guarantee(&self) -> DeliveryGuarantee {
        DeliveryGuarantee::ExactlyOnce
    }
    fn record(&self, id: u64) -> u64 {
        id
    }
    fn sink(&self) -> EarlyCommitSink {
        EarlyCommitSink(self.0.clone())
    }
    async fn read_back(&self) -> Result<Vec<u64>, TestkitError> {
        Ok(self.0.ids())
    }
}

// ---- broken: drops its buffer at a checkpoint ------------------------------------

#[derive(Clone)]
struct DroppingSink(Store);
struct DroppingWriter(Store, Vec<u64>);

impl Sink<u64> for DroppingSink {
    type Committable = ();
    type WriterState = ();
    type Writer = DroppingWriter;
    type Committer = NoCommitter<()>;
    async fn create_writer(&self, _: &TaskContext, _: Vec<()>) -> stream_core::Result<DroppingWriter> {
        Ok(DroppingWriter(self.0.clone(), Vec::new()))
    }
    async fn create_committer(&self, _: &TaskContext) -> stream_core::Result<NoCommitter<()>> {
        Ok(NoCommitter::default())
    }
}

impl SinkWriter<u64> for DroppingWriter {
    type Committable = ();
    type State = ();
    async fn write(&mut self, id: u64) -> stream_core::Result<()> {
        self.1.push(id);
        if self.1.len() >= 100 {
            self.0.append(&std::mem::take(&mut self.1));
        }
        Ok(())
    }
    async fn flush(&mut self, end: bool) -> stream_core::Result<()> {
        if end {
            self.0.append(&std::mem::take(&mut self.1));
        } else {
            // BUG: the buffer is neither written nor kept in the snapshot.
            self.1.clear();
        }
        Ok(())
    }
}

struct DroppingTarget(Store);

impl SinkTarget for DroppingTarget {
    type Record = u64;
    type Sink = DroppingSink;
    fn guarantee(&self) -> DeliveryGuarantee {
        DeliveryGuarantee::AtLeastOnce
    }
    fn record(&self, id: u64) -> u64 {
        id
    }
    fn sink(&self) -> DroppingSink {
        DroppingSink(self.0.clone())
    }
    async fn read_back(&self) -> Result<Vec<u64>, TestkitError> {
        Ok(self.0.ids())
    }
}

fn config_with(faults: Vec<Fault>) -> SuiteConfig {
    SuiteConfig { records: 4_000, faults: Some(faults), ..SuiteConfig::default() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_correct_exactly_once_sink_passes_with_random_crashes() {
    let target = Arc::new(CollectTarget(CollectSink::new()));
    let verdict = run_sink_suite(target, SuiteConfig { crashes: 4, ..SuiteConfig::default() }).await.unwrap();
    assert!(verdict.crashes >= 1, "{verdict}");
    verdict.check(DeliveryGuarantee::ExactlyOnce).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sink_committing_before_completion_is_caught() {
    let target = Arc::new(EarlyCommitTarget(Store::default()));
    let faults = vec![Fault::new("sink", FaultPoint::DuringSnapshot).subtask(0)];
    let verdict = run_sink_suite(target, config_with(faults)).await.unwrap();
    assert_eq!(verdict.crashes, 1);
    let err = verdict.check(DeliveryGuarantee::ExactlyOnce).unwrap_err();
    assert!(err.contains("duplicated"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sink_dropping_its_buffer_at_a_checkpoint_is_caught() {
    let target = Arc::new(DroppingTarget(Store::default()));
    let faults = vec![Fault::new("records", FaultPoint::AfterRecords(500))];
    let verdict = run_sink_suite(target, config_with(faults)).await.unwrap();
    let err = verdict.check(DeliveryGuarantee::AtLeastOnce).unwrap_err();
    assert!(err.contains("lost"), "{err}");
}

// ---- sources -------------------------------------------------------------------

/// Reads ids from a collection that `prepare` fills; `skip` makes it claim in its
/// snapshots to be further than it is (a broken reader).
struct VecSourceTarget {
    ids: Mutex<Vec<u64>>,
    skip: u64,
}

struct SkippingSource {
    inner: CollectionSource<u64>,
    skip: u64,
}

struct SkippingReader {
    inner: CollectionReader<u64>,
    skip: u64,
}

impl Source for SkippingSource {
    type Output = u64;
    type Split = CollectionSplit;
    type EnumeratorState = Vec<CollectionSplit>;
    type Enumerator = CollectionEnumerator;
    type Reader = SkippingReader;
    fn boundedness(&self) -> Boundedness {
        Boundedness::Bounded
    }
    async fn create_enumerator(
        &self,
        p: usize,
        r: Option<Vec<CollectionSplit>>,
    ) -> stream_core::Result<CollectionEnumerator> {
        self.inner.create_enumerator(p, r).await
    }
    async fn create_reader(&self, ctx: &TaskContext) -> stream_core::Result<SkippingReader> {
        Ok(SkippingReader { inner: self.inner.create_reader(ctx).await?, skip: self.skip })
    }
}

impl SourceReader for SkippingReader {
    type Output = u64;
    type Split = CollectionSplit;
    fn add_splits(&mut self, splits: Vec<CollectionSplit>) {
        self.inner.add_splits(splits)
    }
    fn notify_no_more_splits(&mut self) {
        self.inner.notify_no_more_splits()
    }
    async fn poll_next(&mut self, out: &mut Vec<u64>) -> stream_core::Result<ReadStatus> {
        self.inner.poll_next(out).await
    }
    async fn wait_available(&mut self) {
        self.inner.wait_available().await
    }
    fn snapshot_state(&mut self, id: u64) -> stream_core::Result<Vec<CollectionSplit>> {
        let mut splits = self.inner.snapshot_state(id)?;
        for s in &mut splits {
            s.next = (s.next + self.skip).min(s.end);
        }
        Ok(splits)
    }
}

impl SourceTarget for VecSourceTarget {
    type Source = SkippingSource;
    fn guarantee(&self) -> DeliveryGuarantee {
        DeliveryGuarantee::ExactlyOnce
    }
    async fn prepare(&self, ids: &[u64]) -> Result<(), TestkitError> {
        self.ids.lock().unwrap().extend_from_slice(ids);
        Ok(())
    }
    fn source(&self) -> SkippingSource {
        let ids = self.ids.lock().unwrap().clone();
        let inner = CollectionSource::new(ids).records_per_second(20_000.0).unwrap();
        SkippingSource { inner, skip: self.skip }
    }
    fn id_of(&self, record: &u64) -> u64 {
        *record
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_correct_source_passes_and_one_that_overstates_its_position_is_caught() {
    let good = Arc::new(VecSourceTarget { ids: Mutex::new(Vec::new()), skip: 0 });
    let verdict = run_source_suite(good, SuiteConfig { crashes: 4, ..SuiteConfig::default() }).await.unwrap();
    assert!(verdict.crashes >= 1);
    verdict.check(DeliveryGuarantee::ExactlyOnce).unwrap();

    let broken = Arc::new(VecSourceTarget { ids: Mutex::new(Vec::new()), skip: 7 });
    let faults = vec![Fault::new("collect", FaultPoint::AfterCheckpointBeforeCommit)];
    let verdict = run_source_suite(broken, config_with(faults)).await.unwrap();
    let err = verdict.check(DeliveryGuarantee::ExactlyOnce).unwrap_err();
    assert!(err.contains("lost"), "{err}");
}

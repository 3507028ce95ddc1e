//! The suites pass correct connectors and catch deliberately broken ones.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};

use connector_base::DeliveryGuarantee;
use connector_testkit::{
    SinkTarget, SourceTarget, SuiteConfig, TestkitError, run_resume_source_suite, run_sink_suite, run_source_suite,
    run_unbounded_source_suite,
};
use stream_core::api::{
    Boundedness, EnumeratorContext, NoCommitter, ReadStatus, Sink, SinkWriter, Source, SourceReader, SourceSplit,
    SplitEnumerator, TaskContext,
};
use stream_core::builtin::CollectSink;
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

// ---- sources ----------------------------------------------------------------------

/// An in-memory log that `prepare` appends to; one split whose position is an index.
/// `skip` makes the reader claim in its snapshots to be further than it is (broken).
struct LogTarget {
    log: Arc<Mutex<Vec<u64>>>,
    skip: u64,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct LogSplit {
    next: u64,
}

impl SourceSplit for LogSplit {
    fn split_id(&self) -> String {
        "log".into()
    }
}

struct LogSource {
    log: Arc<Mutex<Vec<u64>>>,
    end: Option<u64>,
    skip: u64,
}

struct LogEnumerator {
    assigned: bool,
}

struct LogReader {
    log: Arc<Mutex<Vec<u64>>>,
    end: Option<u64>,
    skip: u64,
    split: Option<LogSplit>,
    no_more: bool,
}

impl Source for LogSource {
    type Output = u64;
    type Split = LogSplit;
    type EnumeratorState = bool;
    type Enumerator = LogEnumerator;
    type Reader = LogReader;
    fn boundedness(&self) -> Boundedness {
        if self.end.is_some() { Boundedness::Bounded } else { Boundedness::ContinuousUnbounded }
    }
    async fn create_enumerator(&self, _: usize, restored: Option<bool>) -> stream_core::Result<LogEnumerator> {
        Ok(LogEnumerator { assigned: restored.unwrap_or(false) })
    }
    async fn create_reader(&self, _: &TaskContext) -> stream_core::Result<LogReader> {
        Ok(LogReader { log: self.log.clone(), end: self.end, skip: self.skip, split: None, no_more: false })
    }
}

impl SplitEnumerator for LogEnumerator {
    type Split = LogSplit;
    type State = bool;
    async fn handle_split_request(
        &mut self,
        subtask: usize,
        ctx: &mut EnumeratorContext<LogSplit>,
    ) -> stream_core::Result<()> {
        if subtask == 0 && !self.assigned {
            self.assigned = true;
            ctx.assign_split(0, LogSplit { next: 0 });
        } else {
            ctx.signal_no_more_splits(subtask);
        }
        Ok(())
    }
    fn add_splits_back(&mut self, _: Vec<LogSplit>, _: usize) {
        self.assigned = false;
    }
    fn snapshot_state(&mut self, _: u64) -> stream_core::Result<bool> {
        Ok(self.assigned)
    }
}

impl SourceReader for LogReader {
    type Output = u64;
    type Split = LogSplit;
    fn add_splits(&mut self, splits: Vec<LogSplit>) {
        self.split = splits.into_iter().next();
    }
    fn notify_no_more_splits(&mut self) {
        self.no_more = true;
    }
    async fn poll_next(&mut self, out: &mut Vec<u64>) -> stream_core::Result<ReadStatus> {
        let Some(split) = self.split.as_mut() else {
            return Ok(if self.no_more { ReadStatus::Finished } else { ReadStatus::NeedSplits });
        };
        {
            let log = self.log.lock().unwrap();
            let len = self.end.unwrap_or(log.len() as u64).min(log.len() as u64);
            if split.next >= len {
                return Ok(if self.end.is_some() { ReadStatus::Finished } else { ReadStatus::NothingAvailable });
            }
            let to = len.min(split.next + 20);
            out.extend_from_slice(&log[split.next as usize..to as usize]);
            split.next = to;
        }
        // About 20 000 records/s, so that the job spans several checkpoints.
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        Ok(ReadStatus::MoreAvailable)
    }
    async fn wait_available(&mut self) {
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    fn snapshot_state(&mut self, _: u64) -> stream_core::Result<Vec<LogSplit>> {
        let skip = self.skip;
        Ok(self.split.iter().map(|s| LogSplit { next: s.next + skip }).collect())
    }
}

impl SourceTarget for LogTarget {
    type Source = LogSource;
    fn guarantee(&self) -> DeliveryGuarantee {
        DeliveryGuarantee::ExactlyOnce
    }
    async fn prepare(&self, ids: &[u64]) -> Result<(), TestkitError> {
        self.log.lock().unwrap().extend_from_slice(ids);
        Ok(())
    }
    fn source(&self, bounded: bool) -> LogSource {
        let end = bounded.then(|| self.log.lock().unwrap().len() as u64);
        LogSource { log: self.log.clone(), end, skip: self.skip }
    }
    fn id_of(&self, record: &u64) -> u64 {
        *record
    }
}

fn log_target(skip: u64) -> Arc<LogTarget> {
    Arc::new(LogTarget { log: Arc::new(Mutex::new(Vec::new())), skip })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_correct_source_passes_and_one_that_overstates_its_position_is_caught() {
    // One split, read by subtask 0: crash it at every protocol point.
    let every_point = vec![
        Fault::new("source", FaultPoint::AfterRecords(700)).subtask(0),
        Fault::new("source", FaultPoint::DuringSnapshot).subtask(0),
        Fault::new("collect", FaultPoint::AfterCheckpointBeforeCommit).subtask(0),
        Fault::new("collect", FaultPoint::DuringCommit).subtask(0),
    ];
    let config = SuiteConfig { records: 3_000, ..config_with(every_point) };
    let verdict = run_source_suite(log_target(0), config).await.unwrap();
    assert_eq!(verdict.crashes, 4, "{verdict}");
    verdict.check(DeliveryGuarantee::ExactlyOnce).unwrap();

    let faults = vec![Fault::new("collect", FaultPoint::AfterCheckpointBeforeCommit)];
    let verdict = run_source_suite(log_target(7), SuiteConfig { records: 3_000, ..config_with(faults) }).await.unwrap();
    let err = verdict.check(DeliveryGuarantee::ExactlyOnce).unwrap_err();
    assert!(err.contains("lost"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unbounded_reads_see_data_added_while_running() {
    let faults = vec![
        Fault::new("source", FaultPoint::AfterRecords(1_200)).subtask(0),
        Fault::new("collect", FaultPoint::DuringCommit).subtask(0),
    ];
    let config = SuiteConfig { records: 2_000, ..config_with(faults) };
    let verdict = run_unbounded_source_suite(log_target(0), config).await.unwrap();
    assert_eq!(verdict.crashes, 2, "{verdict}");
    verdict.check(DeliveryGuarantee::ExactlyOnce).unwrap();
    assert_eq!(verdict.received, 2_000);

    let faults = vec![Fault::new("collect", FaultPoint::AfterCheckpointBeforeCommit)];
    let verdict =
        run_unbounded_source_suite(log_target(5), SuiteConfig { records: 2_000, ..config_with(faults) }).await.unwrap();
    assert!(verdict.lost > 0, "{verdict}");
    assert!(verdict.check(DeliveryGuarantee::ExactlyOnce).is_err(), "{verdict}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_job_resumes_in_a_new_run_and_a_lossy_resume_is_caught() {
    let verdict =
        run_resume_source_suite(log_target(0), SuiteConfig { records: 3_000, ..SuiteConfig::default() }).await.unwrap();
    verdict.check(DeliveryGuarantee::ExactlyOnce).unwrap();
    assert_eq!(verdict.received, 3_000);

    let verdict =
        run_resume_source_suite(log_target(9), SuiteConfig { records: 3_000, ..SuiteConfig::default() }).await.unwrap();
    let err = verdict.check(DeliveryGuarantee::ExactlyOnce).unwrap_err();
    assert!(err.contains("lost"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_restart_hook_runs_mid_run() {
    let restarts = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = restarts.clone();
    let hook: connector_testkit::RestartHook = Arc::new(move || {
        counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Box::pin(async { Ok(()) })
    });
    let config = SuiteConfig { restart_server: Some(hook), ..SuiteConfig::default() };
    let verdict = run_sink_suite(Arc::new(CollectTarget(CollectSink::new())), config).await.unwrap();
    verdict.check(DeliveryGuarantee::ExactlyOnce).unwrap();
    assert_eq!(restarts.load(std::sync::atomic::Ordering::SeqCst), 1);
}

//! Helpers shared by the stream-core integration tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use stream_core::api::KeyedProcessFunction;
use stream_core::api::{
    Boundedness, Collector, Committer, ReadStatus, Sink, SinkWriter, Source, SourceReader, TaskContext, process_fn,
};
use stream_core::builtin::{CollectionEnumerator, CollectionReader, CollectionSource, CollectionSplit};
use stream_core::fault::{Fault, FaultInjector, FaultPoint};
use stream_core::state::{CheckpointData, MemoryStateBackend, StateBackend};
use stream_core::{Result, StreamError};

/// Number of distinct keys in generated inputs.
pub const KEYS: u64 = 37;

/// The key of input record `x`.
pub fn key_of(x: &u64) -> u64 {
    x % KEYS
}

/// Counts records per key and emits `(key, running count)` for each record.
pub fn keyed_count() -> impl KeyedProcessFunction<u64, u64, Output = (u64, u64)> {
    process_fn(|key: &u64, count: &mut u64, _x: u64, out: &mut Collector<(u64, u64)>| {
        *count += 1;
        out.collect((*key, *count));
        Ok(())
    })
}

/// Lost and duplicated `(key, count)` updates compared with the truth for `inputs`.
#[derive(Debug, PartialEq, Eq)]
pub struct Verdict {
    pub expected: usize,
    pub received: usize,
    pub lost: usize,
    pub duplicated: usize,
    /// Keys whose highest emitted count is below the true count.
    pub undercounted_keys: usize,
}

/// Compare emitted `(key, running count)` pairs with the true counts of `inputs`:
/// exactly-once means every pair `(k, 1..=n_k)` arrives exactly once.
pub fn verify_counts(inputs: impl IntoIterator<Item = u64>, output: &[(u64, u64)]) -> Verdict {
    let mut truth: BTreeMap<u64, u64> = BTreeMap::new();
    for x in inputs {
        *truth.entry(key_of(&x)).or_default() += 1;
    }
    let mut seen: BTreeMap<(u64, u64), usize> = BTreeMap::new();
    for pair in output {
        *seen.entry(*pair).or_default() += 1;
    }
    let expected: usize = truth.values().sum::<u64>() as usize;
    let mut lost = 0;
    let mut undercounted_keys = 0;
    for (key, n) in &truth {
        lost += (1..=*n).filter(|c| !seen.contains_key(&(*key, *c))).count();
        let max = output.iter().filter(|(k, _)| k == key).map(|(_, c)| *c).max().unwrap_or(0);
        if max < *n {
            undercounted_keys += 1;
        }
    }
    // Repeated updates, and updates past the true count (a record counted twice).
    let repeated = seen.values().map(|n| n - 1).sum::<usize>();
    let beyond = seen.keys().filter(|(k, c)| *c > truth.get(k).copied().unwrap_or(0)).count();
    let duplicated = repeated + beyond;
    Verdict { expected, received: output.len(), lost, duplicated, undercounted_keys }
}

/// Plant `k` faults at random protocol points of the keyed-count job
/// (stages "numbers" -> "count" -> "sink"). Returns their descriptions.
pub fn plant_random_faults(faults: &FaultInjector, rng: &mut fastrand::Rng, k: usize, max_records: u64) -> Vec<Fault> {
    let mut planted = Vec::new();
    for _ in 0..k {
        let stage = ["numbers", "count", "sink"][rng.usize(0..3)];
        let point = match rng.usize(0..5) {
            0 | 1 => FaultPoint::AfterRecords(rng.u64(100..max_records)),
            2 => FaultPoint::DuringSnapshot,
            3 => FaultPoint::AfterCheckpointBeforeCommit,
            _ => FaultPoint::DuringCommit,
        };
        // Commit points exist only in the sink.
        let stage = match point {
            FaultPoint::AfterCheckpointBeforeCommit | FaultPoint::DuringCommit => "sink",
            _ => stage,
        };
        let fault = Fault::new(stage, point).subtask(rng.usize(0..2));
        faults.plant(fault.clone());
        planted.push(fault);
    }
    planted
}

/// A seed from `TEST_SEED` or fresh, printed so a failure can be replayed.
pub fn seed() -> u64 {
    let seed = std::env::var("TEST_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| fastrand::u64(..));
    eprintln!("TEST_SEED={seed}");
    seed
}

// ---- an event log of the checkpoint protocol ----------------------------------

/// Protocol events in the order they happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// A source reader snapshotted for checkpoint n (the trigger reached it).
    Snapshot(u64),
    /// The backend stored checkpoint n (it is complete).
    Stored(u64),
    /// A committable prepared at checkpoint n was committed.
    Committed(u64),
    /// Checkpoint n is about to be stored; its sink snapshots hold committables of
    /// checkpoints from the second value on (`None`: none).
    Holds(u64, Option<u64>),
    /// The committer was told to forget committables of checkpoints before n.
    Forgot(u64),
}

#[derive(Debug, Clone, Default)]
pub struct EventLog(Arc<Mutex<Vec<(Instant, Event)>>>);

impl EventLog {
    pub fn push(&self, event: Event) {
        self.0.lock().unwrap().push((Instant::now(), event));
    }

    pub fn events(&self) -> Vec<(Instant, Event)> {
        self.0.lock().unwrap().clone()
    }

    pub fn stored(&self) -> Vec<u64> {
        self.events().into_iter().filter_map(|(_, e)| if let Event::Stored(id) = e { Some(id) } else { None }).collect()
    }
}

/// A memory backend that logs `Stored(id)`.
#[derive(Debug)]
pub struct LoggingBackend {
    pub inner: MemoryStateBackend,
    pub log: EventLog,
}

impl StateBackend for LoggingBackend {
    fn store(&self, checkpoint: &CheckpointData) -> Result<u64> {
        let oldest_held = checkpoint
            .tasks
            .values()
            .filter_map(|state| state.decode::<serde_json::Value>("sink").ok()?.get("pending")?.as_array().cloned())
            .flatten()
            .filter_map(|entry| entry.get(0)?.as_u64())
            .min();
        self.log.push(Event::Holds(checkpoint.id, oldest_held));
        let size = self.inner.store(checkpoint)?;
        self.log.push(Event::Stored(checkpoint.id));
        Ok(size)
    }

    fn latest(&self) -> Result<Option<CheckpointData>> {
        self.inner.latest()
    }
}

/// A collection source whose readers log `Snapshot(id)`.
pub struct LoggingSource {
    pub inner: CollectionSource<u64>,
    pub log: EventLog,
}

impl Source for LoggingSource {
    type Output = u64;
    type Split = CollectionSplit;
    type EnumeratorState = Vec<CollectionSplit>;
    type Enumerator = CollectionEnumerator;
    type Reader = LoggingReader;

    fn boundedness(&self) -> Boundedness {
        Boundedness::Bounded
    }

    async fn create_enumerator(
        &self,
        p: usize,
        restored: Option<Vec<CollectionSplit>>,
    ) -> Result<CollectionEnumerator> {
        self.inner.create_enumerator(p, restored).await
    }

    async fn create_reader(&self, ctx: &TaskContext) -> Result<LoggingReader> {
        Ok(LoggingReader { inner: self.inner.create_reader(ctx).await?, log: self.log.clone() })
    }
}

pub struct LoggingReader {
    inner: CollectionReader<u64>,
    log: EventLog,
}

impl SourceReader for LoggingReader {
    type Output = u64;
    type Split = CollectionSplit;

    fn add_splits(&mut self, splits: Vec<CollectionSplit>) {
        self.inner.add_splits(splits)
    }

    fn notify_no_more_splits(&mut self) {
        self.inner.notify_no_more_splits()
    }

    async fn poll_next(&mut self, out: &mut Vec<u64>) -> Result<ReadStatus> {
        self.inner.poll_next(out).await
    }

    async fn wait_available(&mut self) {
        self.inner.wait_available().await
    }

    fn snapshot_state(&mut self, checkpoint_id: u64) -> Result<Vec<CollectionSplit>> {
        self.log.push(Event::Snapshot(checkpoint_id));
        self.inner.snapshot_state(checkpoint_id)
    }
}

// ---- a sink that logs commits and can be slow at chosen checkpoints -------------

type Delay = Arc<dyn Fn(u64) -> Duration + Send + Sync>;

/// Two-phase sink: pre-commit returns the checkpoint id; commit logs `Committed`.
/// `delay(id)` is slept in pre-commit of checkpoint `id` (to provoke timeouts),
/// `commit_delay(id)` before committing the committable of checkpoint `id`.
#[derive(Clone)]
pub struct ProbeSink {
    pub log: EventLog,
    pub delay: Delay,
    pub commit_delay: Delay,
}

impl ProbeSink {
    pub fn new(log: EventLog) -> Self {
        ProbeSink { log, delay: Arc::new(|_| Duration::ZERO), commit_delay: Arc::new(|_| Duration::ZERO) }
    }

    pub fn delay(mut self, delay: impl Fn(u64) -> Duration + Send + Sync + 'static) -> Self {
        self.delay = Arc::new(delay);
        self
    }

    pub fn commit_delay(mut self, delay: impl Fn(u64) -> Duration + Send + Sync + 'static) -> Self {
        self.commit_delay = Arc::new(delay);
        self
    }
}

impl<T: Send + 'static> Sink<T> for ProbeSink {
    type Committable = u64;
    type WriterState = ();
    type Writer = ProbeWriter;
    type Committer = ProbeCommitter;

    async fn create_writer(&self, _ctx: &TaskContext, _restored: Vec<()>) -> Result<ProbeWriter> {
        Ok(ProbeWriter { delay: self.delay.clone(), dirty: false })
    }

    async fn create_committer(&self, _ctx: &TaskContext) -> Result<ProbeCommitter> {
        Ok(ProbeCommitter { log: self.log.clone(), delay: self.commit_delay.clone() })
    }
}

pub struct ProbeWriter {
    delay: Delay,
    dirty: bool,
}

impl<T: Send + 'static> SinkWriter<T> for ProbeWriter {
    type Committable = u64;
    type State = ();

    async fn write(&mut self, _record: T) -> Result<()> {
        self.dirty = true;
        Ok(())
    }

    async fn flush(&mut self, _end: bool) -> Result<()> {
        Ok(())
    }

    async fn prepare_commit(&mut self, checkpoint_id: u64) -> Result<Vec<u64>> {
        let delay = (self.delay)(checkpoint_id);
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        Ok(if std::mem::take(&mut self.dirty) { vec![checkpoint_id] } else { Vec::new() })
    }
}

pub struct ProbeCommitter {
    log: EventLog,
    delay: Delay,
}

impl Committer for ProbeCommitter {
    type Committable = u64;

    async fn commit(&mut self, committables: &[u64]) -> Result<()> {
        for id in committables {
            let delay = (self.delay)(*id);
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            self.log.push(Event::Committed(*id));
        }
        Ok(())
    }

    async fn forget_before(&mut self, checkpoint_id: u64) -> Result<()> {
        self.log.push(Event::Forgot(checkpoint_id));
        Ok(())
    }
}

/// A throttled sequence `0..n`.
pub fn slow_numbers(n: u64, per_second: f64) -> CollectionSource<u64> {
    CollectionSource::sequence(0..n).records_per_second(per_second).unwrap()
}

/// Poll `done` every 10 ms until it holds; panic with `what` after 30 s.
pub async fn wait_until(what: &str, done: impl Fn() -> bool) {
    let polled = async {
        while !done() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(30), polled).await.unwrap_or_else(|_| panic!("{what} (30 s)"));
}

/// Log to the test output (`RUST_LOG=stream_core=debug` to see the protocol).
pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

/// An environment with parallelism 2, small batches, `interval_ms` checkpoints in
/// `mode`, up to `restarts` fixed-delay restarts and `faults`.
pub fn crash_env(
    interval_ms: u64,
    mode: stream_core::CheckpointingMode,
    restarts: u32,
    faults: &FaultInjector,
) -> stream_core::StreamEnvironment {
    stream_core::StreamEnvironment::builder()
        .checkpointing(
            stream_core::CheckpointConfig::builder()
                .interval(Duration::from_millis(interval_ms))
                .mode(mode)
                .build()
                .unwrap(),
        )
        .restart_strategy(stream_core::restart::RestartStrategy::fixed_delay(restarts, Duration::from_millis(5)))
        .parallelism(2)
        .batch_size(64)
        .fault_injector(faults.clone())
        .build()
        .unwrap()
}

/// The keyed count job: `source` ("numbers") -> key_by -> "count" -> CollectSink
/// ("sink"); returns the job result and the committed `(key, count)` updates.
pub async fn keyed_count_job(
    env: &stream_core::StreamEnvironment,
    source: CollectionSource<u64>,
    sink: &stream_core::builtin::CollectSink<(u64, u64)>,
) -> Result<stream_core::JobResult> {
    env.from_source(source, "numbers")
        .key_by(key_of)
        .process("count", keyed_count())
        .sink_to(sink.clone(), "sink")
        .execute("keyed-count")
        .await
}

// ---- a two-phase file sink, for tests that run jobs in child processes ---------

/// Lines go to a hidden pending file at pre-commit; commit renames it to `part-*`.
#[derive(Clone)]
pub struct FileCommitSink {
    pub dir: PathBuf,
}

pub struct FileWriter {
    dir: PathBuf,
    prefix: String,
    lines: String,
}

pub struct FileCommitter {
    dir: PathBuf,
}

impl Sink<(u64, u64)> for FileCommitSink {
    type Committable = String;
    type WriterState = ();
    type Writer = FileWriter;
    type Committer = FileCommitter;

    async fn create_writer(&self, ctx: &TaskContext, _restored: Vec<()>) -> Result<FileWriter> {
        Ok(FileWriter {
            dir: self.dir.clone(),
            prefix: format!("{}-{}", ctx.attempt_id, ctx.subtask),
            lines: String::new(),
        })
    }

    async fn create_committer(&self, _ctx: &TaskContext) -> Result<FileCommitter> {
        Ok(FileCommitter { dir: self.dir.clone() })
    }
}

impl SinkWriter<(u64, u64)> for FileWriter {
    type Committable = String;
    type State = ();

    async fn write(&mut self, (key, count): (u64, u64)) -> Result<()> {
        use std::fmt::Write;
        let _ = writeln!(self.lines, "{key} {count}");
        Ok(())
    }

    async fn flush(&mut self, _end: bool) -> Result<()> {
        Ok(())
    }

    async fn prepare_commit(&mut self, checkpoint_id: u64) -> Result<Vec<String>> {
        if self.lines.is_empty() {
            return Ok(Vec::new());
        }
        let name = format!("{}-{checkpoint_id}", self.prefix);
        let path = self.dir.join(format!(".pending-{name}"));
        let mut file = fs::File::create(&path).map_err(|e| StreamError::io(&path, e))?;
        file.write_all(self.lines.as_bytes()).and_then(|_| file.sync_all()).map_err(|e| StreamError::io(&path, e))?;
        self.lines.clear();
        Ok(vec![name])
    }
}

impl Committer for FileCommitter {
    type Committable = String;

    async fn commit(&mut self, names: &[String]) -> Result<()> {
        for name in names {
            let pending = self.dir.join(format!(".pending-{name}"));
            let done = self.dir.join(format!("part-{name}"));
            if pending.exists() {
                fs::rename(&pending, &done).map_err(|e| StreamError::io(&done, e))?;
            } else if !done.exists() {
                return Err(StreamError::io(&pending, std::io::Error::other("committable lost")));
            }
        }
        Ok(())
    }
}

/// Every `(key, count)` line of the committed `part-*` files in `out`.
pub fn read_output(out: &Path) -> Vec<(u64, u64)> {
    let mut pairs = Vec::new();
    for entry in fs::read_dir(out).unwrap() {
        let path = entry.unwrap().path();
        if !path.file_name().unwrap().to_string_lossy().starts_with("part-") {
            continue;
        }
        for line in fs::read_to_string(&path).unwrap().lines() {
            let (k, c) = line.split_once(' ').unwrap();
            pairs.push((k.parse().unwrap(), c.parse().unwrap()));
        }
    }
    pairs
}

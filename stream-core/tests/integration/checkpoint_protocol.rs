//! The checkpoint protocol step by step: commit only after the checkpoint is stored,
//! re-commit after a restart, timed-out checkpoints never commit, and every knob.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::time::Duration;

use common::*;
use stream_core::fault::{Fault, FaultInjector, FaultPoint};
use stream_core::prelude::*;
use stream_core::state::{FsStateBackend, StateBackend};

fn env_with(
    checkpoint: CheckpointConfig,
    log: &EventLog,
    faults: &FaultInjector,
    restart: RestartStrategy,
    parallelism: usize,
) -> StreamEnvironment {
    StreamEnvironment::builder()
        .checkpointing(checkpoint)
        .state_backend(LoggingBackend { inner: MemoryStateBackend::new(), log: log.clone() })
        .restart_strategy(restart)
        .parallelism(parallelism)
        .batch_size(64)
        .fault_injector(faults.clone())
        .build()
        .unwrap()
}

fn logging_source(n: u64, per_second: f64, log: &EventLog) -> LoggingSource {
    LoggingSource { inner: slow_numbers(n, per_second), log: log.clone() }
}

/// Every commit of a committable prepared at checkpoint p comes after some checkpoint
/// q >= p was stored.
fn assert_commits_follow_completion(log: &EventLog) -> usize {
    let mut max_stored = 0;
    let mut commits = 0;
    for (_, event) in log.events() {
        match event {
            Event::Stored(id) => max_stored = max_stored.max(id),
            Event::Committed(p) => {
                assert!(
                    p <= max_stored,
                    "committable of checkpoint {p} committed before it completed (stored: {max_stored})"
                );
                commits += 1;
            }
            Event::Snapshot(_) | Event::Holds(..) | Event::Forgot(_) => {}
        }
    }
    commits
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commits_happen_only_after_the_checkpoint_is_stored() {
    let log = EventLog::default();
    let faults = FaultInjector::new();
    let config = CheckpointConfig::builder().interval(Duration::from_millis(15)).build().unwrap();
    let env = env_with(config, &log, &faults, RestartStrategy::None, 2);
    env.from_source(logging_source(6_000, 30_000.0, &log), "numbers")
        .key_by(key_of)
        .process("count", keyed_count())
        .sink_to(ProbeSink::new(log.clone()), "sink")
        .execute("commit-order")
        .await
        .unwrap();
    let commits = assert_commits_follow_completion(&log);
    assert!(commits >= 4, "expected several commits, got {commits}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restored_committables_are_committed_again_after_a_crash_in_commit() {
    let log = EventLog::default();
    let faults = FaultInjector::new();
    faults.plant(Fault::new("sink", FaultPoint::DuringCommit));
    let config = CheckpointConfig::builder().interval(Duration::from_millis(15)).build().unwrap();
    let env = env_with(config, &log, &faults, RestartStrategy::fixed_delay(2, Duration::ZERO), 1);
    env.from_source(logging_source(6_000, 30_000.0, &log), "numbers")
        .sink_to(ProbeSink::new(log.clone()), "sink")
        .execute("recommit")
        .await
        .unwrap();
    assert_eq!(faults.fired().len(), 1);
    assert_commits_follow_completion(&log);
    let committed: Vec<u64> = log
        .events()
        .into_iter()
        .filter_map(|(_, e)| if let Event::Committed(p) = e { Some(p) } else { None })
        .collect();
    let twice: Vec<u64> =
        committed.iter().copied().filter(|p| committed.iter().filter(|q| *q == p).count() == 2).collect();
    assert!(
        !twice.is_empty(),
        "the committable whose commit crashed must be committed again after restore: {committed:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn committables_are_forgotten_only_once_no_stored_checkpoint_holds_them() {
    let log = EventLog::default();
    let faults = FaultInjector::new();
    let config = CheckpointConfig::builder().interval(Duration::from_millis(15)).build().unwrap();
    let env = env_with(config, &log, &faults, RestartStrategy::None, 1);
    // The first commit is slow: the checkpoints completed meanwhile still hold it.
    let sink = ProbeSink::new(log.clone()).commit_delay(|id| Duration::from_millis(if id == 1 { 300 } else { 0 }));
    env.from_source(logging_source(12_000, 20_000.0, &log), "numbers")
        .sink_to(sink, "sink")
        .execute("forget")
        .await
        .unwrap();
    let (mut newest_holds, mut forgotten, mut held_older) = (None, Vec::new(), false);
    for (_, event) in log.events() {
        match event {
            Event::Holds(id, oldest) => {
                held_older |= oldest.is_some_and(|oldest| oldest < id);
                newest_holds = Some(oldest);
            }
            Event::Forgot(floor) => {
                let held = newest_holds.expect("a checkpoint was stored before anything is forgotten");
                assert!(
                    held.is_none_or(|oldest| oldest >= floor),
                    "told to forget before {floor} while the newest checkpoint holds {held:?}"
                );
                forgotten.push(floor);
            }
            _ => {}
        }
    }
    assert!(held_older, "a checkpoint stored during the slow commit held an older committable");
    assert!(forgotten.len() >= 2 && forgotten.is_sorted(), "forgotten in order, more than once: {forgotten:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_between_completion_and_commit_loses_nothing_and_doubles_nothing() {
    let faults = FaultInjector::new();
    faults.plant(Fault::new("sink", FaultPoint::AfterCheckpointBeforeCommit).subtask(0));
    faults.plant(Fault::new("sink", FaultPoint::DuringCommit).subtask(1));
    faults.plant(Fault::new("sink", FaultPoint::AfterCheckpointBeforeCommit).subtask(1));
    let env = crash_env(15, CheckpointingMode::ExactlyOnce, 5, &faults);
    let sink = CollectSink::new();
    keyed_count_job(&env, slow_numbers(8_000, 30_000.0), &sink).await.unwrap();
    assert_eq!(faults.fired().len(), 3);
    let verdict = verify_counts(0..8_000, &sink.committed());
    assert_eq!((verdict.lost, verdict.duplicated), (0, 0), "{verdict:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timed_out_checkpoint_is_never_stored_and_its_data_commits_with_a_later_one() {
    let log = EventLog::default();
    let faults = FaultInjector::new();
    let config = CheckpointConfig::builder()
        .interval(Duration::from_millis(20))
        .timeout(Duration::from_millis(100))
        .tolerable_failed_checkpoints(3)
        .build()
        .unwrap();
    let env = env_with(config, &log, &faults, RestartStrategy::None, 1);
    let sink =
        ProbeSink::new(log.clone()).delay(|id| if id == 3 { Duration::from_millis(300) } else { Duration::ZERO });
    let result = env
        .from_source(logging_source(6_000, 20_000.0, &log), "numbers")
        .sink_to(sink, "sink")
        .execute("timeout")
        .await
        .unwrap();
    assert!(!log.stored().contains(&3), "checkpoint 3 timed out and must not be stored: {:?}", log.stored());
    assert!(log.stored().iter().any(|id| *id > 3));
    assert!(result.metrics.checkpoints_failed >= 1);
    assert_commits_follow_completion(&log);
    let committed_3 = log.events().iter().any(|(_, e)| *e == Event::Committed(3));
    assert!(committed_3, "data prepared at checkpoint 3 must be committed by a later checkpoint");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_failed_checkpoints_fail_the_job_and_fewer_are_tolerated() {
    let run = |tolerable: u32, slow: fn(u64) -> bool| async move {
        let log = EventLog::default();
        let config = CheckpointConfig::builder()
            .interval(Duration::from_millis(10))
            .timeout(Duration::from_millis(40))
            .tolerable_failed_checkpoints(tolerable)
            .build()
            .unwrap();
        let env = env_with(config, &log, &FaultInjector::new(), RestartStrategy::None, 1);
        let sink = ProbeSink::new(log.clone())
            .delay(move |id| if slow(id) { Duration::from_millis(60) } else { Duration::ZERO });
        env.from_source(logging_source(3_000, 10_000.0, &log), "numbers")
            .sink_to(sink, "sink")
            .execute("tolerance")
            .await
    };
    let err = run(2, |_| true).await.unwrap_err();
    let text = err.to_string();
    assert!(text.contains("3 consecutive checkpoints failed, more than the 2 tolerated"), "{text}");
    // One slow checkpoint is within a tolerance of 2 ...
    let tolerated = run(2, |id| id == 1).await.unwrap();
    assert!(tolerated.metrics.checkpoints_failed >= 1);
    // ... and fails the job with a tolerance of 0.
    let err = run(0, |id| id == 1).await.unwrap_err();
    assert!(err.to_string().contains("1 consecutive checkpoints failed, more than the 0 tolerated"), "{err}");
}

/// Pairs (trigger of n+1 at the source, store of n) from the event log.
fn triggers_and_stores(log: &EventLog) -> Vec<(std::time::Instant, u64, Option<std::time::Instant>)> {
    let events = log.events();
    events
        .iter()
        .filter_map(|(at, e)| if let Event::Snapshot(id) = e { Some((*at, *id)) } else { None })
        .map(|(at, id)| {
            let stored_prev = events.iter().find(|(_, e)| *e == Event::Stored(id - 1)).map(|(t, _)| *t);
            (at, id, stored_prev)
        })
        .collect()
}

async fn run_slow_sink_job(config: CheckpointConfig) -> EventLog {
    init_tracing();
    let log = EventLog::default();
    let env = env_with(config, &log, &FaultInjector::new(), RestartStrategy::None, 1);
    let sink = ProbeSink::new(log.clone()).delay(|_| Duration::from_millis(30));
    env.from_source(logging_source(4_000, 10_000.0, &log), "numbers")
        .sink_to(sink, "sink")
        .execute("knobs")
        .await
        .unwrap();
    log
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_concurrent_checkpoints_is_respected() {
    let one = CheckpointConfig::builder().interval(Duration::from_millis(5)).max_concurrent(1).build().unwrap();
    let log = run_slow_sink_job(one).await;
    let pairs = triggers_and_stores(&log);
    assert!(pairs.len() >= 4);
    for (at, id, stored_prev) in pairs.iter().filter(|(_, id, _)| *id > 1) {
        let stored_prev = stored_prev.unwrap_or_else(|| panic!("checkpoint {} never stored", id - 1));
        assert!(stored_prev <= *at, "checkpoint {id} triggered while {} was in progress", id - 1);
    }
    let three = CheckpointConfig::builder().interval(Duration::from_millis(5)).max_concurrent(3).build().unwrap();
    let log = run_slow_sink_job(three).await;
    let overlapping = triggers_and_stores(&log).iter().filter(|(at, _, prev)| prev.is_some_and(|p| p > *at)).count();
    assert!(overlapping > 0, "with max_concurrent 3 checkpoints must overlap");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn min_pause_and_interval_are_respected() {
    let config = CheckpointConfig::builder()
        .interval(Duration::from_millis(5))
        .min_pause(Duration::from_millis(80))
        .build()
        .unwrap();
    let log = run_slow_sink_job(config).await;
    let pairs = triggers_and_stores(&log);
    assert!(pairs.len() >= 3);
    // The final checkpoint at the end of input does not wait for the pause.
    let last = pairs.iter().map(|(_, id, _)| *id).max().unwrap();
    for (at, id, stored_prev) in pairs.iter().filter(|(_, id, _)| *id > 1 && *id < last) {
        let pause = at.duration_since(stored_prev.unwrap());
        assert!(pause >= Duration::from_millis(80), "checkpoint {id} started {pause:?} after the previous one ended");
    }

    let log = EventLog::default();
    let config = CheckpointConfig::builder().interval(Duration::from_millis(60)).build().unwrap();
    let env = env_with(config, &log, &FaultInjector::new(), RestartStrategy::None, 1);
    env.from_source(logging_source(4_000, 8_000.0, &log), "numbers")
        .sink_to(ProbeSink::new(log.clone()), "sink")
        .execute("interval")
        .await
        .unwrap();
    let triggers: Vec<_> = log.events().into_iter().filter(|(_, e)| matches!(e, Event::Snapshot(_))).collect();
    assert!(triggers.len() >= 4, "a 0.5 s job with a 60 ms interval checkpoints several times");
    // The last one is the final checkpoint, triggered at the end of input.
    for pair in triggers[..triggers.len() - 1].windows(2) {
        let gap = pair[1].0.duration_since(pair[0].0);
        assert!(gap >= Duration::from_millis(45), "periodic checkpoints {gap:?} apart with a 60 ms interval");
    }
}

#[tokio::test]
async fn parallelism_zero_is_rejected_naming_the_stage() {
    let env = StreamEnvironment::builder().build().unwrap();
    let err = env
        .from_source(CollectionSource::sequence(0..10), "numbers")
        .key_by(key_of)
        .process("count", keyed_count())
        .set_parallelism(0)
        .sink_to(CollectSink::new(), "sink")
        .execute("bad")
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("`parallelism` = 0") && text.contains("`count`"), "{text}");
    let err = StreamEnvironment::builder().parallelism(0).build().err().unwrap();
    assert!(err.to_string().contains("`parallelism` = 0"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_run_resumes_from_a_retained_checkpoint_with_another_parallelism() {
    let dir = tempfile::tempdir().unwrap();
    let sink = CollectSink::new();
    let run = |parallelism: usize, faults: FaultInjector| {
        let sink = sink.clone();
        let dir = dir.path().to_path_buf();
        async move {
            let env = StreamEnvironment::builder()
                .checkpointing(CheckpointConfig::builder().interval(Duration::from_millis(15)).build().unwrap())
                .state_backend(FsStateBackend::new(dir).unwrap())
                .parallelism(parallelism)
                .batch_size(64)
                .fault_injector(faults)
                .build()
                .unwrap();
            let source = CollectionSource::sequence(0..10_000).splits_per_reader(3).unwrap();
            keyed_count_job(&env, source.records_per_second(30_000.0).unwrap(), &sink).await
        }
    };
    let faults = FaultInjector::new();
    faults.plant(Fault::new("count", FaultPoint::AfterRecords(2_000)));
    let first = run(2, faults).await;
    assert!(matches!(first, Err(StreamError::JobFailed { attempts: 1, .. })), "{first:?}");
    let partial = sink.committed().len();
    assert!(partial > 0 && partial < 10_000, "the first run committed {partial}");
    let second = run(3, FaultInjector::new()).await.unwrap();
    assert!(second.restarts == 0);
    let verdict = verify_counts(0..10_000, &sink.committed());
    assert_eq!((verdict.lost, verdict.duplicated), (0, 0), "{verdict:?}");
}

/// A backend whose `store` fails for chosen checkpoint ids (a full disk, say).
#[derive(Debug)]
struct FailingBackend {
    inner: LoggingBackend,
    fail: fn(u64) -> bool,
}

impl stream_core::state::StateBackend for FailingBackend {
    fn store(&self, checkpoint: &stream_core::state::CheckpointData) -> stream_core::Result<u64> {
        if (self.fail)(checkpoint.id) {
            return Err(StreamError::io("/full-disk", std::io::Error::other("no space left on device")));
        }
        self.inner.store(checkpoint)
    }

    fn latest(&self) -> stream_core::Result<Option<stream_core::state::CheckpointData>> {
        self.inner.latest()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checkpoint_that_fails_to_store_never_commits() {
    let log = EventLog::default();
    let env = StreamEnvironment::builder()
        .checkpointing(
            CheckpointConfig::builder()
                .interval(Duration::from_millis(20))
                .tolerable_failed_checkpoints(1)
                .build()
                .unwrap(),
        )
        .state_backend(FailingBackend {
            inner: LoggingBackend { inner: MemoryStateBackend::new(), log: log.clone() },
            fail: |id| id == 2,
        })
        .build()
        .unwrap();
    let result = env
        .from_source(logging_source(4_000, 20_000.0, &log), "numbers")
        .sink_to(ProbeSink::new(log.clone()), "sink")
        .execute("store-failure")
        .await
        .unwrap();
    assert_eq!(result.metrics.checkpoints_failed, 1);
    assert!(!log.stored().contains(&2));
    assert_commits_follow_completion(&log);
    let committed_2 =
        log.events().iter().position(|(_, e)| *e == Event::Committed(2)).expect("data of 2 is committed later");
    let stored_3 = log.events().iter().position(|(_, e)| *e == Event::Stored(3)).expect("checkpoint 3 stored");
    assert!(committed_2 > stored_3, "checkpoint 2 failed; its data may only commit after checkpoint 3 completed");
}

/// What `job` logs at `level` or above, run on one thread (so that a thread-local
/// subscriber sees every task).
fn logs_of(level: tracing::Level, job: impl std::future::Future<Output = ()>) -> String {
    // With one live dispatcher, tracing (0.1) asks only the registering thread's
    // subscriber whether a new callsite is wanted: another test's thread, with none,
    // would cache "never" for a line this job logs later. A second live dispatcher
    // makes it ask every live one, this capturing one included.
    let _second = tracing::Dispatch::new(tracing::subscriber::NoSubscriber::default());
    let captured = std::sync::Arc::new(std::sync::Mutex::new(Vec::<u8>::new()));
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_ansi(false)
        .with_writer(move || Captured(writer.clone()))
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(job);
    });
    String::from_utf8_lossy(&captured.lock().unwrap()).into_owned()
}

/// A tracing writer into a shared buffer.
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The warnings a small checkpointed job with `backend` logs.
fn warnings_of_a_job_with(backend: impl StateBackend) -> String {
    logs_of(tracing::Level::WARN, async {
        let config = CheckpointConfig::builder().interval(Duration::from_millis(10)).build().unwrap();
        let env = StreamEnvironment::builder().checkpointing(config).state_backend(backend).build().unwrap();
        env.from_source(slow_numbers(100, 10_000.0), "numbers")
            .sink_to(DiscardingSink::new(), "discard")
            .execute("warned")
            .await
            .unwrap();
    })
}

#[test]
fn checkpoints_kept_in_memory_are_warned_about_at_start() {
    let warnings = warnings_of_a_job_with(MemoryStateBackend::new());
    assert!(warnings.contains("kept in memory") && warnings.contains("FsStateBackend"), "{warnings}");
    let dir = tempfile::tempdir().unwrap();
    let warnings = warnings_of_a_job_with(FsStateBackend::new(dir.path()).unwrap());
    assert!(!warnings.contains("kept in memory"), "{warnings}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_error_no_restart_can_heal_fails_the_job_at_once() {
    let fail = |permanent: bool| {
        process_fn(move |_key: &u64, _count: &mut u64, x: u64, _out: &mut Collector<u64>| {
            if x < 10 {
                return Ok(());
            }
            let gone = StreamError::connector(std::io::Error::other("the table is gone"));
            Err(if permanent { StreamError::permanent(gone) } else { gone })
        })
    };
    let run = |permanent: bool| async move {
        let env = StreamEnvironment::builder()
            .restart_strategy(RestartStrategy::fixed_delay(2, Duration::from_millis(10)))
            .build()
            .unwrap();
        env.from_source(slow_numbers(100, 100_000.0), "numbers")
            .key_by(key_of)
            .process("fail", fail(permanent))
            .sink_to(DiscardingSink::new(), "discard")
            .execute("permanent")
            .await
            .unwrap_err()
    };
    let error = run(true).await;
    assert!(matches!(error, StreamError::JobFailed { attempts: 1, .. }) && error.is_permanent(), "{error:?}");
    assert!(error.to_string().contains("the table is gone") && error.to_string().contains("cannot mend"), "{error}");
    // The same error not marked permanent is restarted as the strategy says.
    let error = run(false).await;
    assert!(matches!(error, StreamError::JobFailed { attempts: 3, .. }) && !error.is_permanent(), "{error:?}");
}

#[test]
fn log_lines_name_their_job_task_and_checkpoint() {
    let log = logs_of(tracing::Level::INFO, async {
        let config = CheckpointConfig::builder().interval(Duration::from_millis(10)).build().unwrap();
        let env = StreamEnvironment::builder().checkpointing(config).build().unwrap();
        env.from_source(slow_numbers(5, 200.0), "numbers")
            .map(|x| {
                tracing::info!(x, "mapping");
                x
            })
            .sink_to(DiscardingSink::new(), "discard")
            .execute("spans")
            .await
            .unwrap();
    });
    let mapping = log.lines().find(|l| l.contains("mapping")).unwrap_or_default();
    assert!(mapping.contains("job{job=\"spans\" attempt=0}") && mapping.contains("task{task="), "{log}");
    let complete = log.lines().find(|l| l.contains("checkpoint complete")).unwrap_or_default();
    assert!(complete.contains("job{job=\"spans\"") && complete.contains("checkpoint{id="), "{log}");
}

//! A complete job and how it runs: one attempt after another under the restart strategy, each attempt
//! restored from the newest complete checkpoint.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tracing::Instrument;

use crate::env_config::EnvConfig;
use crate::error::{Result, StreamError};
use crate::metrics::MetricsSnapshot;
use crate::rescale::{Rescale, RestoreMode};
use crate::runtime::attempt::{AttemptCtx, TaskEnv};
use crate::runtime::coordinator::Coordinator;
use crate::runtime::driver::Drivers;
use crate::savepoint;
use crate::stage::{self, StageInfo};
use crate::state::{CheckpointData, StateBackend};
use crate::uid_map::UidMap;

pub(crate) async fn execute(
    job: Job,
    job_name: &str,
    mut cancel: watch::Receiver<bool>,
    stop: watch::Receiver<bool>,
) -> Result<JobResult> {
    let errors = job.config.take_graph_errors();
    if !errors.is_empty() {
        let count = if errors.len() == 1 { "1 mistake".to_string() } else { format!("{} mistakes", errors.len()) };
        return Err(StreamError::invalid("job graph", count, errors.join("; ")));
    }
    let table = Arc::new(stage::resolve(&job.stages)?);
    let stages: Vec<StageInfo> = table.values().cloned().collect();
    for stage in &stages {
        if stage.parallelism == 0 {
            return Err(StreamError::invalid(
                "parallelism",
                0,
                format!("stage `{}` needs at least one subtask", stage.name),
            ));
        }
    }
    let uids = UidMap::new(job_name, &stages)?;
    let config = job.config.clone();
    config.metrics.set_job(job_name);
    if config.checkpoint.interval().is_some() && !config.backend.outlives_the_process() {
        tracing::warn!(
            job = job_name,
            "checkpoints are kept in memory (the default state backend): a restarted process starts over \
             from the beginning, and exactly-once sinks and sources lose what they promise across processes; \
             set `.state_backend(FsStateBackend::new(dir)?)` on the environment builder"
        );
    }
    // Claim the checkpoint storage before reading it, fencing a replaced process that
    // may still be writing there.
    let backend = config.backend.clone();
    on_blocking_thread(move || backend.begin()).await?;
    let mut tracker = config.restart.tracker();
    let run_id = format!("{:08x}", fastrand::u32(..));
    // The savepoint (or the old replicas' savepoints) to start from is read once, not
    // at every restart.
    let rescale = config.rescale_from.clone();
    let (resume_from, to_read) = (config.resume_from.clone(), rescale.clone());
    let saved = on_blocking_thread(move || savepoint::read_saved(resume_from.as_deref(), to_read.as_ref()))
        .await?
        .map(Arc::new);
    let mut attempt: u32 = 0;
    loop {
        let (backend, saved_now) = (config.backend.clone(), saved.clone());
        let restored = on_blocking_thread(move || savepoint::restore_point(&*backend, saved_now.as_deref())).await?;
        let mode = restore_mode(rescale.as_ref(), restored.as_ref(), saved.as_deref())?;
        let restored = restored.map(|(cp, _)| uids.to_running(cp, config.allow_non_restored_state)).transpose()?;
        if let Some(cp) = &restored {
            tracing::info!(
                job = job_name,
                checkpoint = cp.id,
                attempt,
                rescaled = mode.is_rescaled(),
                "restoring from checkpoint"
            );
        }
        let outcome = tokio::select! {
            outcome = run_attempt(&job, &table, &uids, attempt, &run_id, restored.map(Arc::new), mode, &stop)
                .instrument(tracing::info_span!("job", job = job_name, attempt)) => outcome.map(|id| (id, false)),
            _ = cancel.wait_for(|c| *c) => Ok((config.metrics.snapshot().last_checkpoint_id, true)),
        };
        match outcome {
            Ok((last_checkpoint_id, cancelled)) => {
                tracing::info!(job = job_name, attempt, cancelled, "job ended");
                let metrics = config.metrics.snapshot();
                return Ok(JobResult { cancelled, last_checkpoint_id, restarts: attempt, metrics, savepoint: None });
            }
            Err(error) => {
                tracing::error!(job = job_name, attempt, %error, "attempt failed");
                if error.is_permanent() {
                    return Err(StreamError::JobFailed { attempts: attempt + 1, last: Box::new(error) });
                }
                match tracker.on_failure(Instant::now()) {
                    Some(delay) => {
                        config.metrics.restarted();
                        tracing::info!(job = job_name, delay_ms = delay.as_millis() as u64, "restarting");
                        tokio::select! {
                            _ = tokio::time::sleep(delay) => {}
                            _ = cancel.wait_for(|c| *c) => {
                                let metrics = config.metrics.snapshot();
                                let last_checkpoint_id = metrics.last_checkpoint_id;
                                return Ok(JobResult {
                                    cancelled: true,
                                    last_checkpoint_id,
                                    restarts: attempt + 1,
                                    metrics,
                                    savepoint: None,
                                });
                            }
                        }
                        attempt += 1;
                    }
                    None => return Err(StreamError::JobFailed { attempts: attempt + 1, last: Box::new(error) }),
                }
            }
        }
    }
}

/// `work` (the state backend's file and network I/O at a job's start) on a blocking
/// thread.
async fn on_blocking_thread<T: Send + 'static>(work: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(work).await.map_err(|e| StreamError::join_failed("restore", e))?
}

/// How an attempt restores: rescaled when it starts from the old replicas' merged
/// savepoints. A rescaled job's own storage holding a checkpoint not newer than them
/// is an old replica's: taking it for the job's own would restore that replica's
/// state unfiltered, so the start fails.
fn restore_mode(
    rescale: Option<&Rescale>,
    restored: Option<&(CheckpointData, bool)>,
    saved: Option<&CheckpointData>,
) -> Result<RestoreMode> {
    let (Some(rescale), Some((checkpoint, from_saved)), Some(saved)) = (rescale, restored, saved) else {
        return Ok(RestoreMode::Same);
    };
    if *from_saved {
        return Ok(RestoreMode::Rescaled { keys: rescale.keys.clone() });
    }
    if checkpoint.id <= saved.id {
        return Err(StreamError::permanent(StreamError::invalid(
            "state_backend",
            format!("checkpoint {}", checkpoint.id),
            format!(
                "a job rescaled from savepoints (the newest is checkpoint {}) needs checkpoint storage of its own: \
                 this one holds an older job's checkpoint; give the rescaled replicas a new location",
                saved.id
            ),
        )));
    }
    Ok(RestoreMode::Same)
}

#[allow(clippy::too_many_arguments)]
async fn run_attempt(
    job: &Job,
    stages: &Arc<BTreeMap<u64, StageInfo>>,
    uids: &UidMap,
    attempt: u32,
    run_id: &str,
    restored: Option<Arc<CheckpointData>>,
    restore_mode: RestoreMode,
    stop: &watch::Receiver<bool>,
) -> Result<u64> {
    let config = &job.config;
    let (coordinator_tx, inbox) = mpsc::unbounded_channel();
    let last_id = restored.as_ref().map(|c| c.id).unwrap_or(0);
    let (completed_tx, completed_rx) = watch::channel(last_id);
    let mut ctx = AttemptCtx {
        attempt,
        attempt_id: format!("{run_id}-{attempt}"),
        mode: config.checkpoint.mode,
        restored,
        restore_mode,
        batch_size: config.batch_size,
        channel_capacity: config.channel_capacity,
        env: TaskEnv {
            coordinator: coordinator_tx,
            completed: completed_rx,
            faults: config.faults.clone(),
            metrics: config.metrics.clone(),
            commit_retry: config.checkpoint.commit_retry.clone(),
            replica: config.replica,
        },
        tasks: JoinSet::new(),
        task_keys: Vec::new(),
        ackers: Vec::new(),
        data_tasks: Vec::new(),
        drivers: Vec::new(),
        stages: stages.clone(),
        deferred: BTreeMap::new(),
        side_outputs: BTreeMap::new(),
    };
    let outcome = async {
        for sink in &job.sinks {
            (sink.build)(&mut ctx)?;
        }
        ctx.build_deferred()?;
        if ctx.drivers.is_empty() {
            return Err(StreamError::invalid("source", "none", "a job needs a source"));
        }
        let mut drivers = Vec::with_capacity(ctx.drivers.len());
        for (key, driver) in std::mem::take(&mut ctx.drivers) {
            drivers.push((key, driver.await?));
        }
        let coordinator = Coordinator {
            config: config.checkpoint.clone(),
            backend: config.backend.clone(),
            uids: uids.clone(),
            metrics: config.metrics.clone(),
            drivers: Drivers::new(drivers),
            inbox,
            completed: completed_tx,
            ackers: ctx.ackers.iter().cloned().collect::<BTreeSet<_>>(),
            task_count: ctx.task_keys.len(),
            data_tasks: ctx.data_tasks.len(),
            last_id,
            stop: stop.clone(),
        };
        coordinator.run().await
    }
    .await;
    // Whatever happened, no task of this attempt may outlive it.
    ctx.tasks.shutdown().await;
    outcome?;
    Ok(config.metrics.snapshot().last_checkpoint_id)
}

type BuildFn = Arc<dyn Fn(&mut AttemptCtx) -> Result<()> + Send + Sync>;

/// One sink of a job: its stage and how it builds the graph that feeds it.
pub(crate) struct SinkEntry {
    pub(crate) seq: u64,
    pub(crate) build: BuildFn,
}

/// A complete job graph, ready to run: one or more sinks and everything that
/// feeds them.
pub struct Job {
    pub(crate) config: Arc<EnvConfig>,
    /// Every stage of every branch (a stage feeding two sinks appears twice).
    pub(crate) stages: Vec<StageInfo>,
    pub(crate) sinks: Vec<SinkEntry>,
}

/// What a finished job reports.
#[derive(Debug, Clone)]
pub struct JobResult {
    /// True when the job was stopped through [`JobHandle::cancel`] rather than
    /// reaching the end of its input.
    pub cancelled: bool,
    /// Id of the last completed checkpoint (the final one).
    pub last_checkpoint_id: u64,
    /// Restarts during this run.
    pub restarts: u32,
    /// Metrics at the end.
    pub metrics: MetricsSnapshot,
    /// The directory holding the savepoint, when the job was stopped with one
    /// ([`JobHandle::stop_with_savepoint`]).
    pub savepoint: Option<PathBuf>,
}

impl Job {
    /// The job's live metrics (the same as its environment's).
    pub fn metrics(&self) -> crate::metrics::JobMetrics {
        self.config.metrics.clone()
    }

    /// Give the sink (the last one added) a stable id its state (pending
    /// committables, writer state) is stored under; see
    /// [`DataStream::uid`](crate::DataStream::uid).
    pub fn uid(mut self, uid: &str) -> Self {
        self.last_sink_stage(|stage| stage.uid = Some(uid.to_string()));
        self
    }

    /// Parallelism of the sink stage (the last one added).
    pub fn set_parallelism(mut self, parallelism: usize) -> Self {
        self.last_sink_stage(|stage| stage.parallelism = parallelism);
        self
    }

    fn last_sink_stage(&mut self, change: impl Fn(&mut StageInfo)) {
        if let Some(seq) = self.sinks.last().map(|s| s.seq) {
            self.stages.iter_mut().filter(|s| s.seq == seq).for_each(change);
        }
    }

    /// One job of this one's sinks and `other`'s: a job that writes to several
    /// places (Flink's several `sinkTo` before one `execute`). One checkpoint spans
    /// every source and sink: it completes only when every sink has pre-committed,
    /// so exactly-once holds for all sinks at once; they share the sources and
    /// operators both were built from (the streams cloned for a fan-out).
    ///
    /// ```
    /// # use stream_core::prelude::*;
    /// # #[tokio::main] async fn main() -> stream_core::Result<()> {
    /// let env = StreamEnvironment::builder().build()?;
    /// let (all, big) = (CollectSink::new(), CollectSink::new());
    /// let numbers = env.from_source(CollectionSource::new((1..=10u64).collect()), "numbers");
    /// numbers
    ///     .clone()
    ///     .sink_to(all.clone(), "all")
    ///     .and(numbers.filter(|x| *x > 8).sink_to(big.clone(), "big"))
    ///     .execute("fan-out")
    ///     .await?;
    /// assert_eq!((all.committed().len(), big.committed().len()), (10, 2));
    /// # Ok(()) }
    /// ```
    pub fn and(mut self, other: Job) -> Job {
        if !Arc::ptr_eq(&self.config, &other.config) {
            self.config.graph_error("`and` joins jobs of two environments; define a job in one".to_string());
        }
        self.stages.extend(other.stages);
        self.sinks.extend(other.sinks);
        self
    }

    /// Run the job to its end (bounded input) or until it fails for good.
    /// Restores from the newest checkpoint in the state backend if there is one.
    pub async fn execute(self, job_name: &str) -> Result<JobResult> {
        let (_keep, cancel) = watch::channel(false);
        let (_keep_stop, stop) = watch::channel(false);
        execute(self, job_name, cancel, stop).await
    }

    /// Start the job in the background; the handle cancels it (unbounded jobs) or
    /// waits for its end. Dropping the handle cancels the job.
    pub fn start(self, job_name: &str) -> JobHandle {
        let (cancel, cancelled) = watch::channel(false);
        let (stop, stopped) = watch::channel(false);
        let name = job_name.to_string();
        let backend = self.config.backend.clone();
        let task = tokio::spawn(async move { execute(self, &name, cancelled, stopped).await });
        JobHandle { cancel, stop, backend, task }
    }
}

fn joined(ended: std::result::Result<Result<JobResult>, tokio::task::JoinError>) -> Result<JobResult> {
    match ended {
        Ok(result) => result,
        Err(e) => Err(StreamError::join_failed("job", e)),
    }
}

/// A running job (see [`Job::start`]).
#[derive(Debug)]
pub struct JobHandle {
    cancel: watch::Sender<bool>,
    stop: watch::Sender<bool>,
    backend: Arc<dyn StateBackend>,
    task: tokio::task::JoinHandle<Result<JobResult>>,
}

impl JobHandle {
    /// Ask the job to stop: every task is stopped at once; what was committed stays
    /// committed and the retained checkpoints allow a later run to resume.
    pub fn cancel(&self) {
        self.cancel.send_replace(true);
    }

    /// Whether the job has ended (finished, failed or cancelled); [`JobHandle::join`]
    /// then returns at once.
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }

    /// Wait for the job to end (finished, failed or cancelled).
    pub async fn join(mut self) -> Result<JobResult> {
        joined((&mut self.task).await)
    }

    /// Stop the job with a savepoint, as Flink's stop-with-savepoint: the sources stop
    /// reading (keeping their positions), every record already read is processed and
    /// written, a final checkpoint is taken and every sink commits it; the job then
    /// ends and that checkpoint is copied into `dir`. A job built with
    /// [`StreamEnvironmentBuilder::resume_from`](crate::StreamEnvironmentBuilder::resume_from)`(dir)`
    /// continues from it with nothing lost and, for exactly-once sinks, nothing
    /// written twice. A failure on the way is handled by the restart strategy (the
    /// restarted attempt stops at once).
    ///
    /// ```no_run
    /// # use stream_core::prelude::*;
    /// # async fn run(env: StreamEnvironment) -> stream_core::Result<()> {
    /// let handle = env
    ///     .from_source(CollectionSource::sequence(0..u64::MAX), "numbers")
    ///     .sink_to(PrintSink::new(), "print")
    ///     .start("numbers");
    /// // ... later: an upgrade.
    /// let result = handle.stop_with_savepoint("/var/lib/job/savepoint-1").await?;
    /// assert!(result.savepoint.is_some());
    /// # Ok(()) }
    /// ```
    pub async fn stop_with_savepoint(self, dir: impl Into<PathBuf>) -> Result<JobResult> {
        self.stop_within(dir.into(), None).await
    }

    /// Run until the job ends, or until the process gets SIGTERM (what Kubernetes
    /// sends before it stops a pod), then [stop with a
    /// savepoint](JobHandle::stop_with_savepoint) into `dir`. When that takes longer
    /// than `deadline` (keep it below the pod's termination grace period), the job
    /// is cancelled instead: its latest checkpoint stays in the state backend, and
    /// the result says `cancelled` and holds no savepoint.
    #[cfg(unix)]
    pub async fn stop_on_sigterm(mut self, dir: impl Into<PathBuf>, deadline: Duration) -> Result<JobResult> {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).map_err(|e| StreamError::io("SIGTERM handler", e))?;
        tokio::select! {
            ended = &mut self.task => return joined(ended),
            _ = term.recv() => tracing::info!(?deadline, "SIGTERM: stopping the job with a savepoint"),
        }
        self.stop_within(dir.into(), Some(deadline)).await
    }

    async fn stop_within(mut self, dir: PathBuf, deadline: Option<Duration>) -> Result<JobResult> {
        self.stop.send_replace(true);
        let ended = match deadline {
            None => (&mut self.task).await,
            Some(deadline) => match tokio::time::timeout(deadline, &mut self.task).await {
                Ok(ended) => ended,
                Err(_) => {
                    tracing::warn!(?deadline, "stop-with-savepoint did not finish in time; cancelling the job");
                    return self.cancel_and_join().await;
                }
            },
        };
        let mut result = joined(ended)?;
        if result.cancelled {
            return Ok(result);
        }
        let (backend, at) = (self.backend.clone(), dir.clone());
        let id = tokio::task::spawn_blocking(move || savepoint::write(&*backend, &at))
            .await
            .map_err(|e| StreamError::join_failed("savepoint", e))??;
        tracing::info!(checkpoint = id, dir = %dir.display(), "savepoint written");
        result.savepoint = Some(dir);
        Ok(result)
    }

    /// [`JobHandle::cancel`], then [`JobHandle::join`].
    pub async fn cancel_and_join(self) -> Result<JobResult> {
        self.cancel();
        self.join().await
    }
}

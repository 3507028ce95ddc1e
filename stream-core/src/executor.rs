//! A complete job and how it runs: one attempt after another under the restart strategy, each attempt
//! restored from the newest complete checkpoint.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tracing::Instrument;

use crate::env_config::EnvConfig;
use crate::error::{Result, StreamError};
use crate::metrics::MetricsSnapshot;
use crate::runtime::attempt::{AttemptCtx, TaskEnv};
use crate::runtime::coordinator::Coordinator;
use crate::stage::StageInfo;
use crate::state::CheckpointData;
use crate::uid_map::UidMap;

pub(crate) async fn execute(job: Job, job_name: &str, mut cancel: watch::Receiver<bool>) -> Result<JobResult> {
    for stage in &job.stages {
        if stage.parallelism == 0 {
            return Err(StreamError::invalid(
                "parallelism",
                0,
                format!("stage `{}` needs at least one subtask", stage.name),
            ));
        }
    }
    let uids = UidMap::new(job_name, &job.stages)?;
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
    let mut tracker = config.restart.tracker();
    let run_id = format!("{:08x}", fastrand::u32(..));
    let mut attempt: u32 = 0;
    loop {
        let backend = config.backend.clone();
        let restored = tokio::task::spawn_blocking(move || backend.latest())
            .await
            .map_err(|e| StreamError::TaskFailed { task: "restore".into(), message: e.to_string() })??
            .map(|cp| uids.to_running(cp, config.allow_non_restored_state))
            .transpose()?;
        if let Some(cp) = &restored {
            tracing::info!(job = job_name, checkpoint = cp.id, attempt, "restoring from checkpoint");
        }
        let outcome = tokio::select! {
            outcome = run_attempt(&job, &uids, attempt, &run_id, restored.map(Arc::new))
                .instrument(tracing::info_span!("job", job = job_name, attempt)) => outcome.map(|id| (id, false)),
            _ = cancel.wait_for(|c| *c) => Ok((config.metrics.snapshot().last_checkpoint_id, true)),
        };
        match outcome {
            Ok((last_checkpoint_id, cancelled)) => {
                tracing::info!(job = job_name, attempt, cancelled, "job ended");
                let metrics = config.metrics.snapshot();
                return Ok(JobResult { cancelled, last_checkpoint_id, restarts: attempt, metrics });
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
                                return Ok(JobResult { cancelled: true, last_checkpoint_id, restarts: attempt + 1, metrics });
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

async fn run_attempt(
    job: &Job,
    uids: &UidMap,
    attempt: u32,
    run_id: &str,
    restored: Option<Arc<CheckpointData>>,
) -> Result<u64> {
    let config = &job.config;
    let (coordinator_tx, inbox) = mpsc::unbounded_channel();
    let last_id = restored.as_ref().map(|c| c.id).unwrap_or(0);
    let (completed_tx, completed_rx) = watch::channel(last_id);
    let sink_parallelism = job.stages.last().map(|s| s.parallelism).unwrap_or(1);
    let mut ctx = AttemptCtx {
        attempt,
        attempt_id: format!("{run_id}-{attempt}"),
        mode: config.checkpoint.mode,
        restored,
        batch_size: config.batch_size,
        channel_capacity: config.channel_capacity,
        env: TaskEnv {
            coordinator: coordinator_tx,
            completed: completed_rx,
            faults: config.faults.clone(),
            metrics: config.metrics.clone(),
            commit_retry: config.checkpoint.commit_retry.clone(),
        },
        tasks: JoinSet::new(),
        task_keys: Vec::new(),
        ackers: Vec::new(),
        data_tasks: Vec::new(),
        driver: None,
    };
    let outcome = async {
        (job.build)(&mut ctx, sink_parallelism)?;
        let driver =
            ctx.driver.take().ok_or_else(|| StreamError::invalid("source", "none", "a job needs a source"))?.await?;
        let coordinator = Coordinator {
            config: config.checkpoint.clone(),
            backend: config.backend.clone(),
            uids: uids.clone(),
            metrics: config.metrics.clone(),
            driver,
            inbox,
            completed: completed_tx,
            ackers: ctx.ackers.iter().cloned().collect::<BTreeSet<_>>(),
            task_count: ctx.task_keys.len(),
            data_tasks: ctx.data_tasks.len(),
            last_id,
        };
        coordinator.run().await
    }
    .await;
    // Whatever happened, no task of this attempt may outlive it.
    ctx.tasks.shutdown().await;
    outcome?;
    Ok(config.metrics.snapshot().last_checkpoint_id)
}

type BuildFn = Arc<dyn Fn(&mut AttemptCtx, usize) -> Result<()> + Send + Sync>;

/// A complete job graph, ready to run.
pub struct Job {
    pub(crate) config: Arc<EnvConfig>,
    pub(crate) stages: Vec<StageInfo>,
    pub(crate) build: BuildFn,
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
}

impl Job {
    /// The job's live metrics (the same as its environment's).
    pub fn metrics(&self) -> crate::metrics::JobMetrics {
        self.config.metrics.clone()
    }

    /// Give the sink a stable id its state (pending committables, writer state) is
    /// stored under; see [`DataStream::uid`](crate::DataStream::uid).
    pub fn uid(mut self, uid: &str) -> Self {
        if let Some(last) = self.stages.last_mut() {
            last.uid = Some(uid.to_string());
        }
        self
    }

    /// Parallelism of the sink stage.
    pub fn set_parallelism(mut self, parallelism: usize) -> Self {
        if let Some(last) = self.stages.last_mut() {
            last.parallelism = parallelism;
        }
        self
    }

    /// Run the job to its end (bounded input) or until it fails for good.
    /// Restores from the newest checkpoint in the state backend if there is one.
    pub async fn execute(self, job_name: &str) -> Result<JobResult> {
        let (_keep, cancel) = watch::channel(false);
        execute(self, job_name, cancel).await
    }

    /// Start the job in the background; the handle cancels it (unbounded jobs) or
    /// waits for its end. Dropping the handle cancels the job.
    pub fn start(self, job_name: &str) -> JobHandle {
        let (cancel, cancelled) = watch::channel(false);
        let name = job_name.to_string();
        let task = tokio::spawn(async move { execute(self, &name, cancelled).await });
        JobHandle { cancel, task }
    }
}

/// A running job (see [`Job::start`]).
#[derive(Debug)]
pub struct JobHandle {
    cancel: watch::Sender<bool>,
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
    pub async fn join(self) -> Result<JobResult> {
        match self.task.await {
            Ok(result) => result,
            Err(e) => Err(crate::StreamError::TaskFailed { task: "job".into(), message: e.to_string() }),
        }
    }

    /// [`JobHandle::cancel`], then [`JobHandle::join`].
    pub async fn cancel_and_join(self) -> Result<JobResult> {
        self.cancel();
        self.join().await
    }
}

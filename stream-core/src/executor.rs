//! Runs a job: one attempt after another under the restart strategy, each attempt
//! restored from the newest complete checkpoint.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use crate::error::{Result, StreamError};
use crate::runtime::attempt::{AttemptCtx, TaskEnv};
use crate::runtime::coordinator::Coordinator;
use crate::state::CheckpointData;
use crate::stream::{Job, JobResult};

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
    let config = job.env.config.clone();
    let mut tracker = config.restart.tracker();
    let run_id = format!("{:08x}", fastrand::u32(..));
    let mut attempt: u32 = 0;
    loop {
        let backend = config.backend.clone();
        let restored = tokio::task::spawn_blocking(move || backend.latest())
            .await
            .map_err(|e| StreamError::TaskFailed { task: "restore".into(), message: e.to_string() })??;
        if let Some(cp) = &restored {
            tracing::info!(job = job_name, checkpoint = cp.id, attempt, "restoring from checkpoint");
        }
        let outcome = tokio::select! {
            outcome = run_attempt(&job, attempt, &run_id, restored.map(Arc::new)) => outcome.map(|id| (id, false)),
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

async fn run_attempt(job: &Job, attempt: u32, run_id: &str, restored: Option<Arc<CheckpointData>>) -> Result<u64> {
    let config = &job.env.config;
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

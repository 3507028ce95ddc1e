//! Everything one execution attempt of a job shares: the channel to the
//! coordinator, the restored checkpoint, the spawned tasks.

use std::collections::BTreeMap;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;

use futures::FutureExt;
use serde::Serialize;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tracing::Instrument;

use super::driver::EnumeratorDriver;
use super::side_output::SideOutput;
use crate::api::TaskContext;
use crate::checkpoint_config::CheckpointingMode;
use crate::error::{Result, StreamError};
use crate::fault::FaultInjector;
use crate::metrics::JobMetrics;
use crate::replica::Replica;
use crate::rescale::RestoreMode;
use crate::retry::RetryPolicy;
use crate::stage::StageInfo;
use crate::state::{CheckpointData, StateBlob};

/// Messages from tasks to the coordinator.
#[derive(Debug)]
pub(crate) enum CoordinatorMsg {
    Ack {
        checkpoint_id: u64,
        task: String,
        state: StateBlob,
    },
    SplitRequest {
        source: usize,
        subtask: usize,
    },
    SplitsFinished {
        source: usize,
        subtask: usize,
        split_ids: Vec<String>,
    },
    /// A source reader needs a checkpoint before its interval
    /// ([`crate::api::SourceReader::wants_checkpoint`]).
    CheckpointWanted {
        task: String,
    },
    /// The task forwarded its end of data (all its records are out).
    Drained {
        task: String,
    },
    TaskFinished {
        task: String,
    },
    TaskFailed {
        task: String,
        error: StreamError,
    },
}

pub(crate) type DriverFuture = Pin<Box<dyn Future<Output = Result<Box<dyn EnumeratorDriver>>> + Send>>;

/// Shared by the tasks of one attempt.
#[derive(Clone)]
pub(crate) struct TaskEnv {
    pub(crate) coordinator: mpsc::UnboundedSender<CoordinatorMsg>,
    pub(crate) completed: watch::Receiver<u64>,
    pub(crate) faults: FaultInjector,
    pub(crate) metrics: JobMetrics,
    /// How a failed commit is retried.
    pub(crate) commit_retry: RetryPolicy,
    /// Which of the job's processes this is.
    pub(crate) replica: Replica,
}

impl TaskEnv {
    /// Report that `task` forwarded its end of data.
    pub(crate) fn drained(&self, task: &str) -> Result<()> {
        self.coordinator
            .send(CoordinatorMsg::Drained { task: task.to_string() })
            .map_err(|_| StreamError::ChannelClosed)
    }

    /// Acknowledge checkpoint `id` for `task` with its state.
    pub(crate) fn ack<S: Serialize>(&self, task: &str, checkpoint_id: u64, state: &S) -> Result<()> {
        let state = StateBlob::encode(task, state)?;
        self.coordinator
            .send(CoordinatorMsg::Ack { checkpoint_id, task: task.to_string(), state })
            .map_err(|_| StreamError::ChannelClosed)
    }
}

pub(crate) struct AttemptCtx {
    pub(crate) attempt: u32,
    pub(crate) attempt_id: String,
    pub(crate) mode: CheckpointingMode,
    pub(crate) restored: Option<Arc<CheckpointData>>,
    /// Whether `restored` is this job's own, or the old replicas' of a rescale.
    pub(crate) restore_mode: RestoreMode,
    pub(crate) batch_size: usize,
    pub(crate) channel_capacity: usize,
    pub(crate) env: TaskEnv,
    pub(crate) tasks: JoinSet<()>,
    /// Spawned tasks; the attempt ends when all of them finished.
    pub(crate) task_keys: Vec<String>,
    /// Participants that acknowledge every checkpoint (tasks and chained sinks).
    pub(crate) ackers: Vec<String>,
    /// Tasks that carry data and report when they are drained.
    pub(crate) data_tasks: Vec<String>,
    /// The enumerators of the job's sources, with the keys their states are kept
    /// under; a source's readers name it by its place in this list.
    pub(crate) drivers: Vec<(String, DriverFuture)>,
    /// The job's stages by their `seq`, as resolved from every branch.
    pub(crate) stages: Arc<BTreeMap<u64, StageInfo>>,
    /// Streams whose operators are built once every consumer has registered.
    pub(crate) deferred: BTreeMap<u64, Box<dyn Deferred>>,
    /// Side outputs registered by the stream of a process operator (`seq`).
    pub(crate) side_outputs: BTreeMap<u64, Vec<Vec<Box<dyn SideOutput>>>>,
}

/// A stream's operator waiting for all its consumers' outputs (see `graph::Shared`).
pub(crate) trait Deferred: Send {
    fn build(self: Box<Self>, ctx: &mut AttemptCtx) -> Result<()>;
    fn as_any(&mut self) -> &mut dyn std::any::Any;
}

impl AttemptCtx {
    /// `stage` as the job's table has it (its final id, parallelism and uid).
    pub(crate) fn stage(&self, stage: &StageInfo) -> StageInfo {
        self.stages.get(&stage.seq).cloned().unwrap_or_else(|| stage.clone())
    }

    /// Build every deferred operator, the latest defined first: a stream's consumers
    /// are all defined after it, so they have registered by then.
    pub(crate) fn build_deferred(&mut self) -> Result<()> {
        while let Some((_, deferred)) = self.deferred.pop_last() {
            deferred.build(self)?;
        }
        Ok(())
    }

    pub(crate) fn task_context(&self, stage: &StageInfo, subtask: usize, parallelism: usize) -> TaskContext {
        TaskContext {
            job: self.env.metrics.job(),
            connector: "",
            stage: stage.id.clone(),
            name: stage.name.clone(),
            subtask,
            parallelism,
            attempt: self.attempt,
            attempt_id: self.attempt_id.clone(),
            restored_checkpoint: self.restored.as_ref().map(|c| c.id),
            replica: self.env.replica,
        }
    }

    /// Register a participant whose acknowledgement every checkpoint waits for.
    pub(crate) fn expect_acks(&mut self, key: &str) {
        self.ackers.push(key.to_string());
    }

    /// Register a task that processes records: it acknowledges checkpoints and
    /// reports when it is drained at the end of input.
    pub(crate) fn register_data_task(&mut self, key: &str) {
        self.expect_acks(key);
        self.data_tasks.push(key.to_string());
    }

    /// Spawn a task; its end (success, error or panic) is reported to the coordinator.
    pub(crate) fn spawn<F>(&mut self, key: String, task: F)
    where
        F: Future<Output = Result<()>> + Send + 'static,
    {
        self.task_keys.push(key.clone());
        let coordinator = self.env.coordinator.clone();
        // A child of the attempt's `job` span: every line a task logs names it.
        let span = tracing::info_span!("task", task = %key);
        self.tasks.spawn(
            async move {
                let outcome = AssertUnwindSafe(task).catch_unwind().await;
                let msg = match outcome {
                    Ok(Ok(())) => CoordinatorMsg::TaskFinished { task: key },
                    Ok(Err(error)) => CoordinatorMsg::TaskFailed { task: key, error },
                    Err(panic) => {
                        let text = panic
                            .downcast_ref::<&str>()
                            .map(|s| s.to_string())
                            .or_else(|| panic.downcast_ref::<String>().cloned())
                            .unwrap_or_else(|| "unknown panic".into());
                        CoordinatorMsg::TaskFailed {
                            error: StreamError::TaskFailed { task: key.clone(), message: format!("panicked: {text}") },
                            task: key,
                        }
                    }
                };
                let _ = coordinator.send(msg);
            }
            .instrument(span),
        );
    }
}

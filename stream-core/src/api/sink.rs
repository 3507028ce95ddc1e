//! The Sink V2 API: a [`SinkWriter`] per subtask and an optional [`Committer`].

use std::future::Future;
use std::marker::PhantomData;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::context::TaskContext;
use crate::error::Result;

/// A sink: the factory of its writers and committers, shared by every attempt.
pub trait Sink<T>: Send + Sync + 'static {
    /// What `prepare_commit` produces and the committer commits.
    type Committable: Serialize + DeserializeOwned + Send + Sync + 'static;
    /// Checkpointed writer state (for example buffered requests).
    type WriterState: Serialize + DeserializeOwned + Send + 'static;
    /// The writer.
    type Writer: SinkWriter<T, Committable = Self::Committable, State = Self::WriterState>;
    /// The committer ([`NoCommitter`] for sinks without one).
    type Committer: Committer<Committable = Self::Committable>;

    /// Create the writer of one subtask. `restored` holds the writer states of the
    /// checkpoint this attempt restores from that belong to this subtask.
    fn create_writer(
        &self,
        ctx: &TaskContext,
        restored: Vec<Self::WriterState>,
    ) -> impl Future<Output = Result<Self::Writer>> + Send;

    /// Create the committer of one subtask.
    fn create_committer(&self, ctx: &TaskContext) -> impl Future<Output = Result<Self::Committer>> + Send;

    /// The `connector` label of this sink's metrics (`kafka`, `file`, ...).
    fn connector_name(&self) -> &'static str {
        "custom"
    }
}

/// Writes records of one subtask.
pub trait SinkWriter<T>: Send + 'static {
    /// See [`Sink::Committable`].
    type Committable: Serialize + DeserializeOwned + Send + Sync + 'static;
    /// See [`Sink::WriterState`].
    type State: Serialize + DeserializeOwned + Send + 'static;

    /// Write (or buffer) one record.
    fn write(&mut self, record: T) -> impl Future<Output = Result<()>> + Send;

    /// Write (or buffer) a batch of records, leaving `records` empty. The default
    /// writes them one by one; override it where the system takes batches.
    fn write_batch(&mut self, records: &mut Vec<T>) -> impl Future<Output = Result<()>> + Send
    where
        T: Send,
    {
        async move {
            for record in records.drain(..) {
                self.write(record).await?;
            }
            Ok(())
        }
    }

    /// No record follows (the input ended, or the job stops with a savepoint): the
    /// next checkpoint is the final one, after which the job commits and ends. A
    /// writer that keeps data open across checkpoints (an in-progress part file)
    /// closes it in that checkpoint. Default: nothing.
    fn end_of_data(&mut self) -> impl Future<Output = Result<()>> + Send {
        async { Ok(()) }
    }

    /// Push buffered data out; called at every checkpoint barrier and at the end of
    /// input (`end_of_input`). An error fails the checkpoint.
    fn flush(&mut self, end_of_input: bool) -> impl Future<Output = Result<()>> + Send;

    /// Pre-commit: make what was written since the last call committable but not yet
    /// visible (a flushed transaction, a closed part file) and return it.
    fn prepare_commit(&mut self, _checkpoint_id: u64) -> impl Future<Output = Result<Vec<Self::Committable>>> + Send {
        async { Ok(Vec::new()) }
    }

    /// State to keep in the checkpoint.
    fn snapshot_state(&mut self, _checkpoint_id: u64) -> Result<Vec<Self::State>> {
        Ok(Vec::new())
    }
}

/// Makes prepared data visible once the checkpoint that covers it is complete.
pub trait Committer: Send + 'static {
    /// See [`Sink::Committable`].
    type Committable: Serialize + DeserializeOwned + Send + Sync + 'static;

    /// Whether this committer commits anything: `false` only for [`NoCommitter`], so
    /// that tools (the testkit's crash plans) know a sink has no commit phase.
    const COMMITS: bool = true;

    /// Commit `committables`. Must be idempotent: after a crash the committables of the
    /// restored checkpoint are committed again, some of them perhaps already committed.
    /// An error is retried by the runtime, then fails the job.
    fn commit(&mut self, committables: &[Self::Committable]) -> impl Future<Output = Result<()>> + Send;

    /// Told once no checkpoint a restore would start from holds committables of
    /// checkpoints before `checkpoint_id` any more: they are committed and will not be
    /// committed again, so what the committer kept to recognise them (a marker row, a
    /// log entry) may go. A checkpoint can hold committables of older checkpoints
    /// (its snapshot was taken before their commit ended), so "committed" alone is not
    /// enough. An error is logged, not fatal. Default: nothing.
    fn forget_before(&mut self, _checkpoint_id: u64) -> impl Future<Output = Result<()>> + Send {
        async { Ok(()) }
    }
}

/// Committer of sinks that have nothing to commit.
#[derive(Debug)]
pub struct NoCommitter<C>(PhantomData<fn() -> C>);

impl<C> Default for NoCommitter<C> {
    fn default() -> Self {
        NoCommitter(PhantomData)
    }
}

impl<C: Serialize + DeserializeOwned + Send + Sync + 'static> Committer for NoCommitter<C> {
    type Committable = C;

    const COMMITS: bool = false;

    async fn commit(&mut self, _committables: &[C]) -> Result<()> {
        Ok(())
    }
}

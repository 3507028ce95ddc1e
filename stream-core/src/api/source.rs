//! The FLIP-27 source: a [`SplitEnumerator`] that discovers and assigns splits and
//! [`SourceReader`]s that read them.

use std::fmt::Debug;
use std::future::Future;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::context::{EnumeratorContext, TaskContext};
use crate::error::Result;

/// Whether a source ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Boundedness {
    /// The source ends; the job takes a final checkpoint and finishes.
    Bounded,
    /// The source runs until the job is cancelled.
    ContinuousUnbounded,
}

/// A unit of work of a source (a file, a partition, a shard) together with the
/// reader's current position in it. It is what reader state is made of.
pub trait SourceSplit: Clone + Debug + Send + Sync + Serialize + DeserializeOwned + 'static {
    /// Stable identifier of the split (independent of the position).
    fn split_id(&self) -> String;
}

/// What a call to [`SourceReader::poll_next`] leaves behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadStatus {
    /// Call again right away.
    MoreAvailable,
    /// Nothing to read now; the runtime waits on [`SourceReader::wait_available`].
    NothingAvailable,
    /// The reader has no split; the runtime asks the enumerator for one.
    NeedSplits,
    /// All assigned splits are done and no more will come.
    Finished,
}

/// A source: the factory of its enumerator and readers. It is shared by every
/// attempt of a job, so it must be cheap to keep and `Sync`.
pub trait Source: Send + Sync + 'static {
    /// Records produced.
    type Output: Send + 'static;
    /// The split type.
    type Split: SourceSplit;
    /// The enumerator's checkpointed state.
    type EnumeratorState: Serialize + DeserializeOwned + Send + 'static;
    /// The enumerator.
    type Enumerator: SplitEnumerator<Split = Self::Split, State = Self::EnumeratorState>;
    /// The reader.
    type Reader: SourceReader<Output = Self::Output, Split = Self::Split>;

    /// Bounded or unbounded.
    fn boundedness(&self) -> Boundedness;

    /// The `connector` label of this source's metrics (`kafka`, `file`, ...).
    fn connector_name(&self) -> &'static str {
        "custom"
    }

    /// Create the enumerator, fresh (`restored == None`) or from a checkpoint.
    fn create_enumerator(
        &self,
        parallelism: usize,
        restored: Option<Self::EnumeratorState>,
    ) -> impl Future<Output = Result<Self::Enumerator>> + Send;

    /// Create the reader of one subtask. Restored splits arrive through
    /// [`SourceReader::add_splits`] before the first `poll_next`.
    fn create_reader(&self, ctx: &TaskContext) -> impl Future<Output = Result<Self::Reader>> + Send;
}

/// Discovers splits and assigns them to readers. Runs in the checkpoint coordinator;
/// its state is part of every checkpoint.
pub trait SplitEnumerator: Send + 'static {
    /// The split type.
    type Split: SourceSplit;
    /// Checkpointed state.
    type State: Serialize + DeserializeOwned + Send + 'static;

    /// Called once before anything else.
    fn start(&mut self, _ctx: &mut EnumeratorContext<Self::Split>) -> impl Future<Output = Result<()>> + Send {
        async { Ok(()) }
    }

    /// A reader without splits asks for work.
    fn handle_split_request(
        &mut self,
        subtask: usize,
        ctx: &mut EnumeratorContext<Self::Split>,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Splits that were assigned to a reader come back (the job was restored with a
    /// different parallelism); they must be assigned again.
    fn add_splits_back(&mut self, splits: Vec<Self::Split>, subtask: usize);

    /// How often [`SplitEnumerator::discover`] runs; `None` for never.
    fn discovery_interval(&self) -> Option<Duration> {
        None
    }

    /// Periodic discovery of new splits (new files, partitions, shards).
    fn discover(&mut self, _ctx: &mut EnumeratorContext<Self::Split>) -> impl Future<Output = Result<()>> + Send {
        async { Ok(()) }
    }

    /// A reader finished these splits (Flink's `SplitsFinishedEvent`): the place to
    /// assign splits that must wait for others (Kinesis child shards after their
    /// parents). It may come again for the same split after a restore; handle it
    /// idempotently.
    fn handle_splits_finished(
        &mut self,
        _subtask: usize,
        _split_ids: Vec<String>,
        _ctx: &mut EnumeratorContext<Self::Split>,
    ) -> impl Future<Output = Result<()>> + Send {
        async { Ok(()) }
    }

    /// Snapshot the state (unassigned splits, discovery progress).
    fn snapshot_state(&mut self, checkpoint_id: u64) -> Result<Self::State>;

    /// Checkpoint `checkpoint_id` is complete.
    fn notify_checkpoint_complete(&mut self, _checkpoint_id: u64) {}
}

/// Reads the splits assigned to one subtask.
pub trait SourceReader: Send + 'static {
    /// Records produced.
    type Output: Send + 'static;
    /// The split type.
    type Split: SourceSplit;

    /// New (or restored) splits to read.
    fn add_splits(&mut self, splits: Vec<Self::Split>);

    /// No further splits will be assigned.
    fn notify_no_more_splits(&mut self);

    /// Append the next records to `out` (a bounded amount, so that checkpoints are
    /// not delayed) and say what to do next. Positions reported by
    /// [`SourceReader::snapshot_state`] must cover exactly the records appended so far.
    fn poll_next(&mut self, out: &mut Vec<Self::Output>) -> impl Future<Output = Result<ReadStatus>> + Send;

    /// Resolves when data may be available after [`ReadStatus::NothingAvailable`].
    /// Must be cancel-safe: the runtime drops it when a checkpoint comes first.
    fn wait_available(&mut self) -> impl Future<Output = ()> + Send {
        tokio::time::sleep(Duration::from_millis(10))
    }

    /// Ids of the splits finished since the last call; the runtime calls it after
    /// every `poll_next` and hands them to [`SplitEnumerator::handle_splits_finished`].
    /// A reader that reports them must keep each finished split in its snapshots until
    /// a checkpoint snapshotted after the report completes, so that a restore from an
    /// earlier checkpoint reports it again (`FetcherReader` in connector-base does).
    fn take_finished_splits(&mut self) -> Vec<String> {
        Vec::new()
    }

    /// Whether the reader needs a checkpoint before it can read much more: a reader
    /// that acknowledges at checkpoints to a broker that sends at most a window of
    /// unacknowledged messages (RabbitMQ's prefetch) says so when the window is half
    /// taken. The runtime asks after every `poll_next`, and at most once per
    /// checkpoint it then triggers the next periodic checkpoint now instead of at its
    /// interval, still after `min_pause` and within `max_concurrent`. Without a
    /// checkpoint interval nothing is triggered early.
    fn wants_checkpoint(&self) -> bool {
        false
    }

    /// The splits still owned by this reader, with their current positions.
    fn snapshot_state(&mut self, checkpoint_id: u64) -> Result<Vec<Self::Split>>;

    /// Checkpoint `checkpoint_id` is complete (acknowledge messages, commit offsets).
    fn notify_checkpoint_complete(&mut self, _checkpoint_id: u64) -> impl Future<Output = Result<()>> + Send {
        async { Ok(()) }
    }
}

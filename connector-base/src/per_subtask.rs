//! The enumerator of a source whose subtasks share one destination as competing
//! consumers (a RabbitMQ queue, a Pub/Sub subscription): one split per subtask, made
//! at the first start and handed to its subtask; a split given back waits for the
//! next request. A de-duplicating (exactly-once) source keeps the ids it emitted in
//! its one reader, so it may refuse more than one subtask; under replicas it reads on
//! replica 0 only, and its readers on the others end at once. Competing consumers
//! share the destination across replicas as they do across subtasks.

use serde::{Deserialize, Serialize};
use stream_core::api::{EnumeratorContext, SourceSplit, SplitEnumerator};
use stream_core::{Result, StreamError};

/// A split owned by one subtask.
pub trait SubtaskSplit: SourceSplit {
    /// The subtask that owns it.
    fn subtask(&self) -> usize;
}

/// Checkpointed state: splits not yet handed out.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(bound = "S: Serialize + serde::de::DeserializeOwned")]
pub struct PerSubtaskState<S> {
    /// Unassigned splits.
    pub pending: Vec<S>,
}

impl<S> Default for PerSubtaskState<S> {
    fn default() -> Self {
        PerSubtaskState { pending: Vec::new() }
    }
}

/// One split per subtask (see the module docs).
#[derive(Debug)]
pub struct PerSubtaskEnumerator<S> {
    pending: Vec<S>,
    /// One reader in the whole job: under replicas, on replica 0 only.
    single_reader: bool,
}

impl<S: SubtaskSplit> PerSubtaskEnumerator<S> {
    /// The restored splits, or `split(subtask)` for each of `parallelism` subtasks.
    /// With `single_reader`, a parallelism above 1 is refused with that reason.
    pub fn new(
        parallelism: usize,
        restored: Option<PerSubtaskState<S>>,
        single_reader: Option<&str>,
        split: impl Fn(usize) -> S,
    ) -> Result<Self> {
        if let Some(why) = single_reader
            && parallelism > 1
        {
            return Err(StreamError::invalid("parallelism", parallelism, why));
        }
        let pending = match restored {
            Some(state) => state.pending,
            None => (0..parallelism).map(split).collect(),
        };
        Ok(PerSubtaskEnumerator { pending, single_reader: single_reader.is_some() })
    }
}

impl<S: SubtaskSplit> SplitEnumerator for PerSubtaskEnumerator<S> {
    type Split = S;
    type State = PerSubtaskState<S>;

    async fn handle_split_request(&mut self, subtask: usize, ctx: &mut EnumeratorContext<S>) -> Result<()> {
        if self.single_reader && ctx.replica().index() != 0 {
            tracing::info!(%subtask, replica = %ctx.replica(), "a single-reader source reads on replica 0 only");
            ctx.signal_no_more_splits(subtask);
            return Ok(());
        }
        let parallelism = ctx.parallelism().max(1);
        let (mine, others): (Vec<_>, Vec<_>) =
            std::mem::take(&mut self.pending).into_iter().partition(|s| s.subtask() % parallelism == subtask);
        self.pending = others;
        for split in mine {
            ctx.assign_split(subtask, split);
        }
        Ok(())
    }

    fn add_splits_back(&mut self, splits: Vec<S>, _subtask: usize) {
        self.pending.extend(splits);
    }

    fn snapshot_state(&mut self, _checkpoint_id: u64) -> Result<PerSubtaskState<S>> {
        Ok(PerSubtaskState { pending: self.pending.clone() })
    }
}

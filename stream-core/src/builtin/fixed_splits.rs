//! An enumerator of a bounded source whose splits are known at the start: it hands
//! them out one per request and keeps the rest in its checkpointed state. Under
//! replicas, each process hands out only the splits its replica owns.

use std::collections::VecDeque;

use crate::api::{EnumeratorContext, SourceSplit, SplitEnumerator};
use crate::error::Result;

/// Hands out a fixed list of splits on request; see the module docs.
#[derive(Debug)]
pub struct FixedSplitEnumerator<S> {
    remaining: VecDeque<S>,
}

impl<S> FixedSplitEnumerator<S> {
    /// Hand out `splits`, in order (on a restore: the checkpointed state).
    pub fn new(splits: impl IntoIterator<Item = S>) -> Self {
        FixedSplitEnumerator { remaining: splits.into_iter().collect() }
    }
}

impl<S: SourceSplit> SplitEnumerator for FixedSplitEnumerator<S> {
    type Split = S;
    type State = Vec<S>;

    async fn handle_split_request(&mut self, subtask: usize, ctx: &mut EnumeratorContext<S>) -> Result<()> {
        // Every replica computes the same splits; the others' are dropped here.
        let replica = ctx.replica();
        while let Some(split) = self.remaining.pop_front() {
            if replica.owns(&split.split_id()) {
                ctx.assign_split(subtask, split);
                return Ok(());
            }
        }
        ctx.signal_no_more_splits(subtask);
        Ok(())
    }

    fn add_splits_back(&mut self, splits: Vec<S>, _subtask: usize) {
        self.remaining.extend(splits);
    }

    fn snapshot_state(&mut self, _checkpoint_id: u64) -> Result<Vec<S>> {
        Ok(self.remaining.iter().cloned().collect())
    }
}

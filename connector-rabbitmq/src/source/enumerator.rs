//! One consumer split per subtask (competing consumers on the queue); exactly-once
//! allows only one.

use connector_base::DeliveryGuarantee;
use serde::{Deserialize, Serialize};
use stream_core::api::{EnumeratorContext, SplitEnumerator};
use stream_core::{Result, StreamError};

use super::split::QueueSplit;

/// Checkpointed state: splits not yet handed out.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RabbitMqEnumeratorState {
    /// Unassigned splits.
    pub pending: Vec<QueueSplit>,
}

/// The enumerator.
#[derive(Debug)]
pub struct RabbitMqEnumerator {
    pending: Vec<QueueSplit>,
}

impl RabbitMqEnumerator {
    pub(crate) fn new(
        queue: &str,
        guarantee: DeliveryGuarantee,
        parallelism: usize,
        restored: Option<RabbitMqEnumeratorState>,
    ) -> Result<Self> {
        if guarantee == DeliveryGuarantee::ExactlyOnce && parallelism > 1 {
            return Err(StreamError::invalid(
                "parallelism",
                parallelism,
                "an exactly-once RabbitMQ source de-duplicates in one consumer: give its stage parallelism 1 \
                 (set_parallelism(1) on the source), or use at-least-once",
            ));
        }
        let pending = match restored {
            Some(state) => state.pending,
            None => (0..parallelism)
                .map(|subtask| QueueSplit { queue: queue.to_string(), subtask, unacknowledged_ids: Vec::new() })
                .collect(),
        };
        Ok(RabbitMqEnumerator { pending })
    }
}

impl SplitEnumerator for RabbitMqEnumerator {
    type Split = QueueSplit;
    type State = RabbitMqEnumeratorState;

    async fn handle_split_request(&mut self, subtask: usize, ctx: &mut EnumeratorContext<QueueSplit>) -> Result<()> {
        let parallelism = ctx.parallelism().max(1);
        let (mine, others): (Vec<_>, Vec<_>) =
            std::mem::take(&mut self.pending).into_iter().partition(|s| s.subtask % parallelism == subtask);
        self.pending = others;
        for split in mine {
            ctx.assign_split(subtask, split);
        }
        Ok(())
    }

    fn add_splits_back(&mut self, splits: Vec<QueueSplit>, _subtask: usize) {
        self.pending.extend(splits);
    }

    fn snapshot_state(&mut self, _checkpoint_id: u64) -> Result<RabbitMqEnumeratorState> {
        Ok(RabbitMqEnumeratorState { pending: self.pending.clone() })
    }
}

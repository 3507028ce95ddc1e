//! One subscriber split per subtask (several subscribers share a subscription, as
//! Pub/Sub's own clients do); exactly-once allows only one.

use connector_base::DeliveryGuarantee;
use serde::{Deserialize, Serialize};
use stream_core::api::{EnumeratorContext, SplitEnumerator};
use stream_core::{Result, StreamError};

use super::split::SubscriptionSplit;

/// Checkpointed state: splits not yet handed out.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PubSubEnumeratorState {
    /// Unassigned splits.
    pub pending: Vec<SubscriptionSplit>,
}

/// The enumerator.
#[derive(Debug)]
pub struct PubSubEnumerator {
    pending: Vec<SubscriptionSplit>,
}

impl PubSubEnumerator {
    pub(crate) fn new(
        subscription: &str,
        guarantee: DeliveryGuarantee,
        parallelism: usize,
        restored: Option<PubSubEnumeratorState>,
    ) -> Result<Self> {
        if guarantee == DeliveryGuarantee::ExactlyOnce && parallelism > 1 {
            return Err(StreamError::invalid(
                "parallelism",
                parallelism,
                "an exactly-once Pub/Sub source drops redeliveries by id in one subscriber (a redelivery may go to any \
                 subscriber of the subscription): give its stage parallelism 1, or use at-least-once",
            ));
        }
        let pending = match restored {
            Some(state) => state.pending,
            None => (0..parallelism)
                .map(|subtask| SubscriptionSplit {
                    subscription: subscription.to_string(),
                    subtask,
                    unconfirmed_ids: Vec::new(),
                })
                .collect(),
        };
        Ok(PubSubEnumerator { pending })
    }
}

impl SplitEnumerator for PubSubEnumerator {
    type Split = SubscriptionSplit;
    type State = PubSubEnumeratorState;

    async fn handle_split_request(
        &mut self,
        subtask: usize,
        ctx: &mut EnumeratorContext<SubscriptionSplit>,
    ) -> Result<()> {
        let parallelism = ctx.parallelism().max(1);
        let (mine, others): (Vec<_>, Vec<_>) =
            std::mem::take(&mut self.pending).into_iter().partition(|s| s.subtask % parallelism == subtask);
        self.pending = others;
        for split in mine {
            ctx.assign_split(subtask, split);
        }
        Ok(())
    }

    fn add_splits_back(&mut self, splits: Vec<SubscriptionSplit>, _subtask: usize) {
        self.pending.extend(splits);
    }

    fn snapshot_state(&mut self, _checkpoint_id: u64) -> Result<PubSubEnumeratorState> {
        Ok(PubSubEnumeratorState { pending: self.pending.clone() })
    }
}

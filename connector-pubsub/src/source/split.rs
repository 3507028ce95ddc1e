//! A split is one subtask's subscriber of the subscription.

use connector_base::per_subtask::SubtaskSplit;
use serde::{Deserialize, Serialize};
use stream_core::api::SourceSplit;

/// The subscriber of `subscription` run by subtask `subtask`, with (exactly-once) the
/// ids of messages emitted whose ack was not confirmed yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscriptionSplit {
    /// The subscription's full name.
    pub subscription: String,
    /// The subtask that owns it.
    pub subtask: usize,
    /// Exactly-once: ids emitted and not confirmed acknowledged when the checkpoint
    /// was taken; their redeliveries after a restore are acknowledged and dropped.
    pub unconfirmed_ids: Vec<String>,
}

impl SourceSplit for SubscriptionSplit {
    fn split_id(&self) -> String {
        format!("{}#{}", self.subscription, self.subtask)
    }
}

impl SubtaskSplit for SubscriptionSplit {
    fn subtask(&self) -> usize {
        self.subtask
    }
}

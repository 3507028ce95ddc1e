//! A split is one subtask's consumer of the queue.

use connector_base::per_subtask::SubtaskSplit;
use serde::{Deserialize, Serialize};
use stream_core::api::SourceSplit;

/// The consumer of `queue` run by subtask `subtask`, with (exactly-once) the
/// correlation ids of messages emitted but not yet acknowledged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueSplit {
    /// The queue.
    pub queue: String,
    /// The subtask that owns it.
    pub subtask: usize,
    /// Exactly-once: ids emitted and not acknowledged when the checkpoint was taken;
    /// redeliveries of these are dropped after a restore.
    pub unacknowledged_ids: Vec<String>,
}

impl SourceSplit for QueueSplit {
    fn split_id(&self) -> String {
        format!("{}#{}", self.queue, self.subtask)
    }
}

impl SubtaskSplit for QueueSplit {
    fn subtask(&self) -> usize {
        self.subtask
    }
}

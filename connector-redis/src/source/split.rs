//! A split is one stream key with the id of the last entry delivered from it.

use serde::{Deserialize, Serialize};
use stream_core::api::SourceSplit;

use crate::stream_id::StreamId;

/// One stream key and where its reading stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamSplit {
    /// The stream key.
    pub key: String,
    /// The last entry delivered (reading continues after it).
    pub last: StreamId,
    /// Bounded reads: the last entry to deliver.
    pub stop: Option<StreamId>,
    /// Consumer-group mode: while `Some`, this consumer's pending entries (delivered
    /// before a restart, not acknowledged) are read again from this id on.
    pub pending_from: Option<StreamId>,
}

impl SourceSplit for StreamSplit {
    fn split_id(&self) -> String {
        self.key.clone()
    }
}

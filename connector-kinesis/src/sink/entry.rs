//! A record as the sink buffers it: its bytes (text, or base64 for other bytes, in
//! checkpoint state) and its partition key.

use serde::{Deserialize, Serialize};

/// One `PutRecords` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KinesisEntry {
    /// The record's bytes.
    #[serde(with = "connector_base::state_bytes")]
    pub data: Vec<u8>,
    /// The partition key (1 to 256 characters) that picks the shard.
    pub partition_key: String,
}

impl KinesisEntry {
    /// What the entry counts against Kinesis's record and request size limits: the
    /// data and the partition key.
    pub fn size(&self) -> usize {
        self.data.len() + self.partition_key.len()
    }
}

//! A Kafka split: one topic-partition and the next offset to read.

use serde::{Deserialize, Serialize};
use stream_core::api::SourceSplit;

/// One topic-partition with the reader's position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KafkaSplit {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// The next offset to read (every record before it was emitted).
    pub offset: i64,
    /// Exclusive end offset of a bounded read.
    pub stop: Option<i64>,
}

impl KafkaSplit {
    /// Whether a bounded split has been read to its end.
    pub fn is_finished(&self) -> bool {
        self.stop.is_some_and(|stop| self.offset >= stop)
    }
}

impl SourceSplit for KafkaSplit {
    fn split_id(&self) -> String {
        format!("{}-{}", self.topic, self.partition)
    }
}

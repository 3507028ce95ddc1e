//! A Pulsar split: one partition of a topic (or a topic without partitions), the id
//! of the last message emitted from it, and where a bounded read ends.

use serde::{Deserialize, Serialize};
use stream_core::api::SourceSplit;

use crate::position::Position;

/// Where a bounded split ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Stop {
    /// At the partition's last message when the reader first subscribes.
    Latest,
    /// At this message (included).
    At(Position),
    /// The partition had no message: nothing to read.
    Empty,
    /// A message published at or after the stop time came: the split is done.
    Reached,
}

/// One partition with the reader's position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PulsarSplit {
    /// The partition's topic name (`persistent://t/ns/name-partition-2`), or the
    /// topic's for a topic without partitions.
    pub topic: String,
    /// The partition's index (-1 for a topic without partitions).
    pub partition: i32,
    /// The topic as configured (for routing the split to its owner).
    pub parent: String,
    /// The last message emitted (`None`: nothing yet).
    pub position: Option<Position>,
    /// Where a bounded read ends (`None`: unbounded).
    pub stop: Option<Stop>,
    /// A bounded read also ends before the first message published at or after this
    /// time (milliseconds since the epoch).
    #[serde(default)]
    pub stop_time: Option<u64>,
}

impl PulsarSplit {
    /// Whether a bounded split has been read to its end.
    pub fn is_finished(&self) -> bool {
        match self.stop {
            Some(Stop::Empty | Stop::Reached) => true,
            Some(Stop::At(last)) => self.position.is_some_and(|p| !last.is_after(&p)),
            _ => false,
        }
    }
}

impl SourceSplit for PulsarSplit {
    fn split_id(&self) -> String {
        self.topic.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ledger_id: u64, entry_id: u64, batch_index: i32) -> Position {
        Position { ledger_id, entry_id, batch_index, partition: 0, batch_size: None }
    }

    #[test]
    fn a_bounded_split_is_finished_at_its_stop() {
        let mut split = PulsarSplit {
            topic: "t".into(),
            partition: 0,
            parent: "t".into(),
            position: None,
            stop: None,
            stop_time: None,
        };
        assert!(!split.is_finished());
        split.stop = Some(Stop::Empty);
        assert!(split.is_finished());
        split.stop = Some(Stop::At(at(1, 5, -1)));
        assert!(!split.is_finished());
        split.position = Some(at(1, 4, -1));
        assert!(!split.is_finished());
        split.position = Some(at(1, 5, -1));
        assert!(split.is_finished());
        split.position = Some(at(1, 1, -1));
        split.stop = Some(Stop::Reached);
        assert!(split.is_finished());
    }
}

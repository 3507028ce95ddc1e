//! A message's place in its partition: what the source keeps per split, and what a
//! start cursor may name.

use pulsar::proto::MessageIdData;
use serde::{Deserialize, Serialize};

/// A message's place in its partition (Pulsar's message id without the parts a
/// position does not need).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    /// The ledger the message is stored in.
    pub ledger_id: u64,
    /// The entry within the ledger.
    pub entry_id: u64,
    /// The index within a batch entry (-1 for a message on its own).
    pub batch_index: i32,
    /// The partition (-1 for a topic without partitions).
    pub partition: i32,
    /// The number of messages of the batch entry, when the message was in one.
    pub batch_size: Option<i32>,
}

impl Position {
    /// The position of a message id.
    pub fn of(id: &MessageIdData) -> Position {
        Position {
            ledger_id: id.ledger_id,
            entry_id: id.entry_id,
            batch_index: id.batch_index.unwrap_or(-1),
            partition: id.partition.unwrap_or(-1),
            batch_size: id.batch_size,
        }
    }

    /// As a message id, to seek or acknowledge.
    pub fn id(&self) -> MessageIdData {
        MessageIdData {
            ledger_id: self.ledger_id,
            entry_id: self.entry_id,
            partition: Some(self.partition),
            batch_index: (self.batch_index >= 0).then_some(self.batch_index),
            batch_size: self.batch_size,
            ..MessageIdData::default()
        }
    }

    /// Order within one partition.
    fn key(&self) -> (u64, u64, i32) {
        (self.ledger_id, self.entry_id, self.batch_index)
    }

    /// Whether this message comes after `other` in the same partition.
    pub fn is_after(&self, other: &Position) -> bool {
        self.key() > other.key()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ledger_id: u64, entry_id: u64, batch_index: i32) -> Position {
        Position { ledger_id, entry_id, batch_index, partition: 0, batch_size: None }
    }

    #[test]
    fn positions_order_by_ledger_entry_and_batch_index() {
        assert!(at(1, 5, -1).is_after(&at(1, 4, -1)));
        assert!(at(2, 0, -1).is_after(&at(1, 9, -1)));
        assert!(at(1, 4, 1).is_after(&at(1, 4, 0)));
        assert!(!at(1, 4, 0).is_after(&at(1, 4, 0)));
        assert_eq!(Position::of(&at(3, 7, 2).id()), at(3, 7, 2));
    }
}

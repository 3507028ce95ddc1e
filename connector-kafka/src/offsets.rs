//! Where reading starts and (for bounded reads) stops.

use std::collections::BTreeMap;

/// Where a partition discovered at start-up is read from. Partitions discovered later
/// are read from the earliest offset (they are new).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartingOffsets {
    /// The first retained record (default).
    Earliest,
    /// The end of the partition at start-up.
    Latest,
    /// The consumer group's committed offset; where there is none, `reset`.
    Committed {
        /// Fallback when the group has no committed offset.
        reset: OffsetReset,
    },
    /// The first record with a timestamp at or after this many ms since the Unix epoch.
    Timestamp(i64),
    /// Explicit offsets per (topic, partition); partitions not listed start earliest.
    Specific(BTreeMap<(String, i32), i64>),
}

/// Fallback of [`StartingOffsets::Committed`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffsetReset {
    /// The first retained record.
    Earliest,
    /// The end of the partition.
    Latest,
}

/// Where a bounded read stops (exclusive); the source finishes there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoppingOffsets {
    /// The end of each partition when it is discovered.
    Latest,
    /// The first offset with a timestamp at or after this many ms since the Unix epoch.
    Timestamp(i64),
    /// Explicit end offsets per (topic, partition); partitions not listed stop at latest.
    Specific(BTreeMap<(String, i32), i64>),
}

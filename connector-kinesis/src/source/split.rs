//! A split is one shard: its parents (read before it) and where reading stands.

use serde::{Deserialize, Serialize};
use stream_core::api::SourceSplit;

/// Where reading of a shard continues.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ShardPosition {
    /// From the oldest retained record.
    TrimHorizon,
    /// From the first record added at or after this time (milliseconds since the epoch).
    AtTimestamp(i64),
    /// From this sequence number, inclusive.
    AtSequenceNumber(String),
    /// After this sequence number (the last record emitted).
    AfterSequenceNumber(String),
}

/// One shard of the stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardSplit {
    /// The shard id (`shardId-000000000003`).
    pub shard_id: String,
    /// Shards this one was split or merged from that were still readable when it was
    /// found; it is assigned only once they are read to their end.
    pub parents: Vec<String>,
    /// Where reading continues.
    pub position: ShardPosition,
}

impl SourceSplit for ShardSplit {
    fn split_id(&self) -> String {
        self.shard_id.clone()
    }
}

impl ShardPosition {
    /// The position as Kinesis names it: iterator type, sequence number, timestamp
    /// (for `GetShardIterator` and `SubscribeToShard`).
    pub(crate) fn as_kinesis(
        &self,
    ) -> (aws_sdk_kinesis::types::ShardIteratorType, Option<String>, Option<aws_sdk_kinesis::primitives::DateTime>)
    {
        use aws_sdk_kinesis::primitives::DateTime;
        use aws_sdk_kinesis::types::ShardIteratorType as Type;
        match self {
            ShardPosition::TrimHorizon => (Type::TrimHorizon, None, None),
            ShardPosition::AtTimestamp(ms) => (Type::AtTimestamp, None, Some(DateTime::from_millis(*ms))),
            ShardPosition::AtSequenceNumber(seq) => (Type::AtSequenceNumber, Some(seq.clone()), None),
            ShardPosition::AfterSequenceNumber(seq) => (Type::AfterSequenceNumber, Some(seq.clone()), None),
        }
    }
}

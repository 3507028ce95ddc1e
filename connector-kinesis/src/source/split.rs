//! A split is one shard: its parents (read before it) and where reading stands.

use aws_sdk_kinesis::error::SdkError;
use aws_sdk_kinesis::operation::get_shard_iterator::GetShardIteratorError;
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
    /// A shard iterator of `shard` at this position (`GetShardIterator`); `None` when
    /// the shard is closed and nothing follows the position.
    pub(crate) async fn iterator(
        &self,
        client: &aws_sdk_kinesis::Client,
        stream: &str,
        shard: &str,
    ) -> Result<Option<String>, SdkError<GetShardIteratorError>> {
        let (kind, sequence, timestamp) = self.as_kinesis();
        let call = client.get_shard_iterator().stream_name(stream).shard_id(shard).shard_iterator_type(kind);
        let out = call.set_starting_sequence_number(sequence).set_timestamp(timestamp).send().await?;
        Ok(out.shard_iterator().map(str::to_string))
    }

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

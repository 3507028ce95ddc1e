//! What the source emits.

/// One record read from a shard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KinesisRecord {
    /// The shard it was read from.
    pub shard_id: String,
    /// Its sequence number (unique and increasing within the shard).
    pub sequence_number: String,
    /// The partition key it was written with.
    pub partition_key: String,
    /// Its bytes.
    pub data: Vec<u8>,
    /// When Kinesis received it (milliseconds since the epoch), if known.
    pub approximate_arrival_millis: Option<i64>,
}

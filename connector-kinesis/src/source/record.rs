//! What the source emits.

use std::time::Duration;

use stream_core::metrics::SourceMetrics;

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

impl KinesisRecord {
    /// The SDK's record, read from `shard`.
    pub(crate) fn from_sdk(shard: &str, r: &aws_sdk_kinesis::types::Record) -> Self {
        KinesisRecord {
            shard_id: shard.to_string(),
            sequence_number: r.sequence_number().to_string(),
            partition_key: r.partition_key().unwrap_or_default().to_string(),
            data: r.data().as_ref().to_vec(),
            approximate_arrival_millis: r.approximate_arrival_timestamp().and_then(|t| t.to_millis().ok()),
        }
    }
}

/// The records of one answer from `shard` (a `GetRecords` page or a fan-out event) as
/// the source emits them; their bytes and the shard's distance to its tip
/// (`MillisBehindLatest`) go to `metrics`.
pub(crate) fn fetched(
    shard: &str,
    records: &[aws_sdk_kinesis::types::Record],
    millis_behind_latest: Option<i64>,
    metrics: &SourceMetrics,
) -> Vec<KinesisRecord> {
    if let Some(behind) = millis_behind_latest {
        metrics.fetch_lag(Duration::from_millis(behind.max(0) as u64));
    }
    metrics.bytes_in(records.iter().map(|r| r.data().as_ref().len() as u64).sum());
    records.iter().map(|r| KinesisRecord::from_sdk(shard, r)).collect()
}

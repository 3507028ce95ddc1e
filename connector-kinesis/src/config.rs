//! The builders of [`KinesisStreamsSink`] and [`KinesisStreamsSource`] and the
//! validation of their options.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_config::SdkConfig;
use connector_base::DeliveryGuarantee;
use connector_base::async_sink::{AsyncSink, AsyncSinkOptions, ServiceLimits};
use connector_base::schema::SerializationSchema;
use stream_core::retry::RetryPolicy;
use stream_core::state::FinishedSplitsBoard;
use stream_core::{Result, StreamError};

/// `PutRecords`: 500 records, 5 MiB per request, 1 MiB per record (data and key).
const PUT_RECORDS: ServiceLimits = ServiceLimits {
    api: "PutRecords",
    max_batch_size: 500,
    max_batch_size_in_bytes: 5 * 1024 * 1024,
    max_record_size_in_bytes: 1024 * 1024,
};

/// `GetRecords` returns at most 10 000 records.
const MAX_GET_RECORDS: usize = 10_000;

pub(crate) type PartitionKeyFn<T> = Arc<dyn Fn(&T) -> String + Send + Sync>;

/// Writes records to one Kinesis data stream with `PutRecords`, at-least-once
/// (connector-base's batching, retrying [`AsyncSink`]). Build with
/// [`KinesisStreamsSinkBuilder::new`].
pub type KinesisStreamsSink<T> = AsyncSink<T, KinesisStreamTarget<T>>;

/// The stream a [`KinesisStreamsSink`] writes to, how records are encoded and how
/// their partition keys are chosen.
pub struct KinesisStreamTarget<T> {
    pub(crate) sdk: SdkConfig,
    pub(crate) stream: String,
    pub(crate) schema: Arc<dyn SerializationSchema<T>>,
    pub(crate) partition_key: PartitionKeyFn<T>,
}

impl<T> std::fmt::Debug for KinesisStreamTarget<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The SdkConfig's own Debug hides credentials; only name what identifies the sink.
        f.debug_struct("KinesisStreamsSink")
            .field("stream", &self.stream)
            .field("region", &self.sdk.region())
            .finish_non_exhaustive()
    }
}

/// Builder of [`KinesisStreamsSink`]; defaults are Flink's (500 records, 5 MiB per
/// batch, 1 MiB per record, 50 requests in flight, 10 000 buffered, 5 s in buffer).
pub struct KinesisStreamsSinkBuilder<T> {
    sdk: SdkConfig,
    stream: String,
    schema: Arc<dyn SerializationSchema<T>>,
    partition_key: PartitionKeyFn<T>,
    options: AsyncSinkOptions,
}

impl<T: Send + 'static> KinesisStreamsSinkBuilder<T> {
    /// Write to `stream` with the region, credentials and endpoint of `sdk`: each
    /// record encoded by `schema`, its shard chosen by the partition key
    /// `partition_key` gives it (1 to 256 characters; records with one key keep their
    /// order within a shard).
    pub fn new(
        sdk: &SdkConfig,
        stream: impl Into<String>,
        schema: impl SerializationSchema<T>,
        partition_key: impl Fn(&T) -> String + Send + Sync + 'static,
    ) -> Self {
        KinesisStreamsSinkBuilder {
            sdk: sdk.clone(),
            stream: stream.into(),
            schema: Arc::new(schema),
            partition_key: Arc::new(partition_key),
            options: AsyncSinkOptions::new(PUT_RECORDS),
        }
    }

    connector_base::async_sink_options!(options, "default 50; 1 keeps the order of batches");

    /// Validate and build; the error names the bad option and value.
    pub fn build(self) -> Result<KinesisStreamsSink<T>> {
        validate_stream(&self.stream)?;
        let async_config = self.options.build(DeliveryGuarantee::AtLeastOnce, 50)?;
        let target = KinesisStreamTarget {
            sdk: self.sdk,
            stream: self.stream,
            schema: self.schema,
            partition_key: self.partition_key,
        };
        Ok(AsyncSink::new(target, async_config))
    }
}

/// Kinesis names (streams, consumers): 1 to 128 of `[a-zA-Z0-9_.-]`.
fn valid_name(name: &str) -> bool {
    (1..=128).contains(&name.len()) && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

fn validate_stream(stream: &str) -> Result<()> {
    if valid_name(stream) {
        Ok(())
    } else {
        Err(StreamError::invalid("stream", format!("{stream:?}"), "a stream name is 1 to 128 of [a-zA-Z0-9_.-]"))
    }
}

/// Where the source starts reading the shards it finds when a job first starts
/// (shards born later by resharding are always read from their beginning, and a
/// restored job continues from its checkpoint).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartingPosition {
    /// The oldest record still retained (`TRIM_HORIZON`).
    TrimHorizon,
    /// Records added after the job first started (`LATEST`, fixed as the start time so
    /// that a restart before the first checkpoint does not skip records).
    Latest,
    /// Records added at or after this time (`AT_TIMESTAMP`).
    AtTimestamp(SystemTime),
    /// Named shards at these sequence numbers (`AT_SEQUENCE_NUMBER`, inclusive);
    /// shards not named start at `TRIM_HORIZON`.
    AtSequenceNumbers(BTreeMap<String, String>),
}

/// Reads one Kinesis data stream, exactly-once: shards are splits, sequence numbers
/// are checkpointed, and a shard born by resharding is read only after its parents.
/// Build with [`KinesisStreamsSource::builder`].
#[derive(Clone)]
pub struct KinesisStreamsSource {
    pub(crate) sdk: SdkConfig,
    pub(crate) stream: String,
    pub(crate) start: StartingPosition,
    pub(crate) discovery_interval: Duration,
    pub(crate) get_records_max: usize,
    pub(crate) idle_poll_interval: Duration,
    pub(crate) fetchers: usize,
    pub(crate) fan_out_consumer: Option<String>,
    pub(crate) retry: RetryPolicy,
    pub(crate) call_timeout: Duration,
    pub(crate) finished_shards_board: Option<FinishedSplitsBoard>,
}

impl std::fmt::Debug for KinesisStreamsSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KinesisStreamsSource")
            .field("stream", &self.stream)
            .field("region", &self.sdk.region())
            .field("start", &self.start)
            .field("enhanced_fan_out", &self.fan_out_consumer)
            .field("finished_shards_board", &self.finished_shards_board)
            .finish_non_exhaustive()
    }
}

impl KinesisStreamsSource {
    /// Read `stream` with the region, credentials and endpoint of `sdk`.
    pub fn builder(sdk: &SdkConfig, stream: impl Into<String>) -> KinesisStreamsSourceBuilder {
        KinesisStreamsSourceBuilder {
            source: KinesisStreamsSource {
                sdk: sdk.clone(),
                stream: stream.into(),
                start: StartingPosition::Latest,
                discovery_interval: Duration::from_secs(10),
                get_records_max: MAX_GET_RECORDS,
                idle_poll_interval: Duration::from_millis(200),
                fetchers: 1,
                fan_out_consumer: None,
                retry: RetryPolicy::exponential(Duration::from_millis(100), Duration::from_secs(2))
                    .give_up_after(Duration::from_secs(30)),
                call_timeout: Duration::from_secs(10),
                finished_shards_board: None,
            },
        }
    }
}

/// Builder of [`KinesisStreamsSource`].
pub struct KinesisStreamsSourceBuilder {
    source: KinesisStreamsSource,
}

impl KinesisStreamsSourceBuilder {
    /// Where a fresh job starts (default [`StartingPosition::Latest`], as Flink).
    pub fn starting_position(mut self, start: StartingPosition) -> Self {
        self.source.start = start;
        self
    }

    /// How often the shard list is read again to find shards born by resharding
    /// (default 10 s).
    pub fn shard_discovery_interval(mut self, interval: Duration) -> Self {
        self.source.discovery_interval = interval;
        self
    }

    /// Records per `GetRecords` call (1 to 10 000, default 10 000).
    pub fn get_records_max(mut self, n: usize) -> Self {
        self.source.get_records_max = n;
        self
    }

    /// Pause before polling a shard again after a `GetRecords` that returned nothing
    /// (default 200 ms; Kinesis allows 5 reads per second per shard).
    pub fn idle_poll_interval(mut self, interval: Duration) -> Self {
        self.source.idle_poll_interval = interval;
        self
    }

    /// Fetcher tasks per reader, each polling its share of the reader's shards
    /// (default 1).
    pub fn fetchers_per_reader(mut self, n: usize) -> Self {
        self.source.fetchers = n;
        self
    }

    /// Read with enhanced fan-out (`SubscribeToShard`: records pushed to a consumer of
    /// its own, 2 MB/s per shard) as consumer `consumer_name`, registered on first use
    /// and kept registered; default: polling with `GetRecords`.
    pub fn enhanced_fan_out(mut self, consumer_name: impl Into<String>) -> Self {
        self.source.fan_out_consumer = Some(consumer_name.into());
        self
    }

    /// How reading a shard retries a failed call (default: waits from 100 ms doubling
    /// to 2 s, with jitter, for 30 s). Throttling is retried whatever the limits;
    /// failures on the way (timeouts, lost connections) stop at them, and the reader
    /// fails naming the shard (the job restarts from its checkpoint).
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.source.retry = policy;
        self
    }

    /// The longest one call to Kinesis may take, the SDK's own retries included
    /// (default 10 s; used unless the `SdkConfig` sets an operation timeout). A call
    /// without answer by then (a silent network) fails and is retried within the
    /// `retry` policy: a shard's reading fails at most this plus the policy's limit
    /// after the network went silent.
    pub fn call_timeout(mut self, timeout: Duration) -> Self {
        self.source.call_timeout = timeout;
        self
    }

    /// Where the replicas of a job (`stream_core::Replica`, more than one) post the
    /// shards they have read to their end; required with more than one replica, unused
    /// with one. Each shard is read by one replica: a shard goes to the replica of its
    /// first parent, so a split's children stay where it was read. A shard merged from
    /// parents of two replicas is read once the other replica has posted its parent,
    /// after a checkpoint covering that parent's end completed (seen at the next
    /// shard discovery). Give every replica of the job the same board, and each job its
    /// own.
    pub fn finished_shards_board(mut self, board: FinishedSplitsBoard) -> Self {
        self.source.finished_shards_board = Some(board);
        self
    }

    /// Validate and build; the error names the bad option and value.
    pub fn build(mut self) -> Result<KinesisStreamsSource> {
        if self.source.call_timeout.is_zero() {
            return Err(StreamError::invalid("call_timeout", "0s", "must be greater than zero"));
        }
        self.source.sdk = connector_base::aws::with_call_timeout(&self.source.sdk, self.source.call_timeout);
        let s = &self.source;
        s.retry.validate("retry")?;
        validate_stream(&s.stream)?;
        if !(1..=MAX_GET_RECORDS).contains(&s.get_records_max) {
            return Err(StreamError::invalid("get_records_max", s.get_records_max, "GetRecords takes 1 to 10000"));
        }
        if s.discovery_interval.is_zero() {
            return Err(StreamError::invalid("shard_discovery_interval", "0s", "must be positive"));
        }
        if let Some(name) = s.fan_out_consumer.as_ref().filter(|n| !valid_name(n)) {
            return Err(StreamError::invalid(
                "enhanced_fan_out",
                format!("{name:?}"),
                "a consumer name is 1 to 128 of [a-zA-Z0-9_.-]",
            ));
        }
        if s.fetchers == 0 {
            return Err(StreamError::invalid("fetchers_per_reader", 0, "must be at least 1"));
        }
        if let StartingPosition::AtSequenceNumbers(map) = &s.start
            && let Some((shard, seq)) =
                map.iter().find(|(_, seq)| seq.is_empty() || !seq.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(StreamError::invalid(
                "starting_position",
                format!("{shard}={seq:?}"),
                "a sequence number is a string of digits",
            ));
        }
        Ok(self.source)
    }
}

//! The Kafka sink: none, at-least-once (deliveries confirmed at every checkpoint) or
//! exactly-once (one transaction per checkpoint and subtask, committed when the
//! checkpoint completes, recovered after a crash in between).

mod commits_in_flight;
mod committer;
mod delivery;
mod read_back;
mod record_log;
mod transaction;
mod writer;
mod written;

pub use committer::KafkaCommitter;
pub use record_log::RecordLog;
pub use transaction::KafkaCommittable;
pub use writer::{KafkaWriter, KafkaWriterState};
pub use written::WrittenOffsets;

use std::sync::Arc;
use std::time::Duration;

use connector_base::DeliveryGuarantee;
use stream_core::api::{Sink, TaskContext};
use stream_core::{Result, StreamError};

use crate::client::ClientProperties;
use crate::record::KafkaSerializer;
use transaction::Transactions;

/// Writes records to Kafka with the chosen delivery guarantee.
///
/// ```no_run
/// use connector_base::{DeliveryGuarantee, schema::Utf8Schema};
/// use connector_kafka::{KafkaSink, ValueTo};
///
/// let sink = KafkaSink::builder("127.0.0.1:9092", ValueTo::new("counts", Utf8Schema))
///     .delivery_guarantee(DeliveryGuarantee::ExactlyOnce)
///     .transactional_id_prefix("word-count")
///     .build()
///     .unwrap();
/// ```
pub struct KafkaSink<T: 'static> {
    pub(crate) client: ClientProperties,
    pub(crate) guarantee: DeliveryGuarantee,
    pub(crate) serializer: Arc<dyn KafkaSerializer<T>>,
    pub(crate) transactions: Option<Arc<Transactions>>,
}

impl<T: Send + 'static> KafkaSink<T> {
    /// Write to the cluster at `bootstrap_servers` with `serializer` (for example
    /// `ValueTo::new("topic", JsonSchema::<T>::new())`); at-least-once by default.
    pub fn builder(bootstrap_servers: impl Into<String>, serializer: impl KafkaSerializer<T>) -> KafkaSinkBuilder<T> {
        KafkaSinkBuilder {
            client: ClientProperties { bootstrap: bootstrap_servers.into(), properties: Vec::new() },
            guarantee: DeliveryGuarantee::AtLeastOnce,
            serializer: Arc::new(serializer),
            prefix: None,
            pool_size: DEFAULT_POOL_SIZE,
            marker_topic: None,
            transaction_timeout: Duration::from_secs(15 * 60),
            max_checkpoint_duration: Duration::from_secs(10 * 60),
            max_restart_duration: Duration::from_secs(60),
            records_in_checkpoint: false,
            bad_property: None,
        }
    }
}

/// Transactional ids per subtask unless `transactional_id_pool_size` says otherwise.
const DEFAULT_POOL_SIZE: u64 = 8;

/// Builder of [`KafkaSink`].
pub struct KafkaSinkBuilder<T: 'static> {
    client: ClientProperties,
    guarantee: DeliveryGuarantee,
    serializer: Arc<dyn KafkaSerializer<T>>,
    prefix: Option<String>,
    pool_size: u64,
    marker_topic: Option<String>,
    transaction_timeout: Duration,
    max_checkpoint_duration: Duration,
    max_restart_duration: Duration,
    records_in_checkpoint: bool,
    bad_property: Option<String>,
}

impl<T: Send + 'static> KafkaSinkBuilder<T> {
    /// `None`, `AtLeastOnce` (default) or `ExactlyOnce` (needs a transactional id
    /// prefix). `AtMostOnce` is refused.
    pub fn delivery_guarantee(mut self, guarantee: DeliveryGuarantee) -> Self {
        self.guarantee = guarantee;
        self
    }

    /// Prefix of the transactional ids (`<prefix>-<subtask>-<slot>`): unique per job and
    /// stable across its restarts.
    pub fn transactional_id_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = Some(prefix.into());
        self
    }

    /// Transactional ids per subtask (default 8, at least 4), used in turn. A restart
    /// fences all of them, so nothing a killed process left open can hold back
    /// `read_committed` readers, however many processes restored the same checkpoint.
    /// When all but two of them hold transactions still waiting for their commit, the
    /// writer waits (up to 30 s) for the committer to catch up, then fails (after that
    /// many failed checkpoints in a row).
    pub fn transactional_id_pool_size(mut self, size: u64) -> Self {
        self.pool_size = size;
        self
    }

    /// Topic of the commit markers (default `<prefix>-commit-markers`). The writers
    /// create it, or add partitions to it, so that every transactional id has a
    /// partition of its own (`parallelism * pool size` partitions).
    pub fn marker_topic(mut self, topic: impl Into<String>) -> Self {
        self.marker_topic = Some(topic.into());
        self
    }

    /// `transaction.timeout.ms` (default 15 min, Kafka's default maximum). It must
    /// exceed the longest checkpoint plus the longest restart, or the broker aborts a
    /// transaction whose checkpoint completed before it is committed (then its records
    /// are re-written from the checkpoint, but only if the restart came first).
    pub fn transaction_timeout(mut self, timeout: Duration) -> Self {
        self.transaction_timeout = timeout;
        self
    }

    /// The longest a checkpoint may take (default 10 min, Flink's checkpoint timeout)
    /// and the longest a restart may take (default 1 min), checked against the
    /// transaction timeout.
    pub fn expected_durations(mut self, checkpoint: Duration, restart: Duration) -> Self {
        self.max_checkpoint_duration = checkpoint;
        self.max_restart_duration = restart;
        self
    }

    /// Keep every record of an open transaction in the checkpoint (default `false`).
    ///
    /// A transaction whose checkpoint completed but which a crash left uncommitted is
    /// aborted on recovery and its records written again. By default the checkpoint
    /// keeps only where they landed (offset runs per partition), and recovery reads
    /// them back: Kafka keeps an aborted transaction's records in the log until
    /// retention removes them. On a compacted topic the cleaner may remove them sooner,
    /// so set this there; it costs a checkpoint the size of the records written in one
    /// checkpoint interval, and a re-written record without key or partition goes
    /// where the partitioner sends it then (read back, every record keeps its
    /// partition). Recovery fails with a clear error, never silently, if a record
    /// cannot be read back.
    pub fn records_in_checkpoint(mut self, keep: bool) -> Self {
        self.records_in_checkpoint = keep;
        self
    }

    /// Any librdkafka producer property (security, `linger.ms`, `compression.type`, ...).
    pub fn property(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        let key = key.into();
        if ClientProperties::owned(&key) || key == "transaction.timeout.ms" {
            self.bad_property = Some(key.clone());
        }
        self.client.properties.push((key, value.into()));
        self
    }

    /// Validate and build; the error names the bad option.
    pub fn build(self) -> Result<KafkaSink<T>> {
        if let Some(key) = self.bad_property {
            return Err(StreamError::invalid("property", key, "set by the connector; use the builder's own option"));
        }
        if self.client.bootstrap.trim().is_empty() {
            return Err(StreamError::invalid("bootstrap_servers", "\"\"", "give at least one host:port"));
        }
        if self.guarantee == DeliveryGuarantee::AtMostOnce {
            return Err(StreamError::invalid(
                "delivery_guarantee",
                self.guarantee,
                "the Kafka sink offers none, at-least-once or exactly-once",
            ));
        }
        let transactions = if self.guarantee == DeliveryGuarantee::ExactlyOnce {
            let prefix = self.prefix.filter(|p| !p.is_empty()).ok_or_else(|| {
                StreamError::invalid("transactional_id_prefix", "none", "exactly-once needs a prefix unique to the job")
            })?;
            let needed = self.max_checkpoint_duration + self.max_restart_duration;
            if self.transaction_timeout <= needed {
                return Err(StreamError::invalid(
                    "transaction_timeout",
                    format!("{:?}", self.transaction_timeout),
                    format!(
                        "must exceed the longest checkpoint plus the longest restart ({needed:?}); raise it (and the \
                         broker's transaction.max.timeout.ms) or lower expected_durations"
                    ),
                ));
            }
            if !(4..=64).contains(&self.pool_size) {
                return Err(StreamError::invalid(
                    "transactional_id_pool_size",
                    self.pool_size,
                    "give 4 to 64: the committing, the open and the next transaction need an id each, plus one \
                     restored; each id costs one broker round trip per restart",
                ));
            }
            let marker_topic = self.marker_topic.unwrap_or_else(|| format!("{prefix}-commit-markers"));
            Some(Arc::new(Transactions::new(
                self.client.clone(),
                prefix,
                self.pool_size,
                self.transaction_timeout,
                marker_topic,
                self.records_in_checkpoint,
            )))
        } else {
            None
        };
        Ok(KafkaSink { client: self.client, guarantee: self.guarantee, serializer: self.serializer, transactions })
    }
}

impl<T: Send + 'static> Sink<T> for KafkaSink<T> {
    type Committable = KafkaCommittable;
    type WriterState = KafkaWriterState;
    type Writer = KafkaWriter<T>;
    type Committer = KafkaCommitter;

    async fn create_writer(&self, ctx: &TaskContext, restored: Vec<KafkaWriterState>) -> Result<KafkaWriter<T>> {
        KafkaWriter::new(self, ctx, restored).await
    }

    async fn create_committer(&self, ctx: &TaskContext) -> Result<KafkaCommitter> {
        Ok(KafkaCommitter { transactions: self.transactions.clone(), attempt: ctx.attempt_id.clone() })
    }
}

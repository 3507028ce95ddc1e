//! The builders of `KafkaSource` and `KafkaSink` and the validation of their options.

use std::sync::Arc;
use std::time::Duration;

use connector_base::DeliveryGuarantee;
use connector_base::schema::BadRecordPolicy;
use regex::Regex;
use stream_core::{Result, StreamError};

use crate::client::ClientProperties;
use crate::offsets::{StartingOffsets, StoppingOffsets};
use crate::record::{KafkaDeserializer, KafkaSerializer};
use crate::security::KafkaSecurity;

/// Which topics to read.
#[derive(Debug, Clone)]
pub(crate) enum Topics {
    List(Vec<String>),
    Pattern(Regex),
}

impl Topics {
    pub fn matches(&self, topic: &str) -> bool {
        match self {
            Topics::List(list) => list.iter().any(|t| t == topic),
            Topics::Pattern(p) => p.is_match(topic),
        }
    }
}

/// Reads Kafka topics as records of type `T` (exactly-once: offsets live in
/// checkpoints).
///
/// ```no_run
/// use connector_kafka::{KafkaSource, StartingOffsets, ValueOnly};
/// use connector_base::schema::Utf8Schema;
///
/// let source = KafkaSource::builder("127.0.0.1:9092", ValueOnly(Utf8Schema))
///     .topics(["orders"])
///     .group_id("order-counter")
///     .starting_offsets(StartingOffsets::Earliest)
///     .build()
///     .unwrap();
/// ```
pub struct KafkaSource<T: 'static> {
    pub(crate) client: ClientProperties,
    pub(crate) topics: Option<Topics>,
    pub(crate) group_id: Option<String>,
    pub(crate) starting: StartingOffsets,
    pub(crate) stopping: Option<StoppingOffsets>,
    pub(crate) discovery: Option<Duration>,
    pub(crate) commit_on_checkpoint: bool,
    pub(crate) deserializer: Arc<dyn KafkaDeserializer<T>>,
    pub(crate) policy: BadRecordPolicy,
    pub(crate) max_records_per_poll: usize,
    pub(crate) reconnect_timeout: Duration,
}

impl<T: Send + 'static> KafkaSource<T> {
    /// Read from the cluster at `bootstrap_servers` (`host:port[,host:port]`),
    /// decoding records with `deserializer` (for example `ValueOnly(JsonSchema::<T>::new())`).
    pub fn builder(
        bootstrap_servers: impl Into<String>,
        deserializer: impl KafkaDeserializer<T>,
    ) -> KafkaSourceBuilder<T> {
        KafkaSourceBuilder {
            source: KafkaSource {
                client: ClientProperties { bootstrap: bootstrap_servers.into(), properties: Vec::new() },
                topics: None,
                group_id: None,
                starting: StartingOffsets::Earliest,
                stopping: None,
                discovery: Some(Duration::from_secs(30)),
                commit_on_checkpoint: true,
                deserializer: Arc::new(deserializer),
                policy: BadRecordPolicy::Fail,
                max_records_per_poll: 500,
                reconnect_timeout: Duration::from_secs(60),
            },
            pattern: None,
            bad_property: None,
        }
    }
}

/// Builder of [`KafkaSource`].
pub struct KafkaSourceBuilder<T: 'static> {
    source: KafkaSource<T>,
    pattern: Option<String>,
    bad_property: Option<String>,
}

impl<T: Send + 'static> KafkaSourceBuilder<T> {
    /// Read these topics.
    pub fn topics<S: Into<String>>(mut self, topics: impl IntoIterator<Item = S>) -> Self {
        self.source.topics = Some(Topics::List(topics.into_iter().map(Into::into).collect()));
        self
    }

    /// Read every topic whose name matches this regular expression (new matching
    /// topics are picked up by partition discovery).
    pub fn topic_pattern(mut self, pattern: impl Into<String>) -> Self {
        self.pattern = Some(pattern.into());
        self
    }

    /// The consumer group: offsets are committed to it on checkpoint completion (for
    /// monitoring; the checkpoint is authoritative) and read by
    /// [`StartingOffsets::Committed`].
    pub fn group_id(mut self, group: impl Into<String>) -> Self {
        self.source.group_id = Some(group.into());
        self
    }

    /// Where partitions found at start-up are read from (default earliest).
    pub fn starting_offsets(mut self, starting: StartingOffsets) -> Self {
        self.source.starting = starting;
        self
    }

    /// Stop at these offsets: a bounded source (partition discovery is off).
    pub fn bounded(mut self, stopping: StoppingOffsets) -> Self {
        self.source.stopping = Some(stopping);
        self
    }

    /// How often new partitions and matching topics are looked for (default 30 s;
    /// `None` for never).
    pub fn partition_discovery_interval(mut self, interval: Option<Duration>) -> Self {
        self.source.discovery = interval;
        self
    }

    /// Commit offsets to the consumer group when a checkpoint completes (default true
    /// when a group id is set; failures are only logged).
    pub fn commit_offsets_on_checkpoint(mut self, commit: bool) -> Self {
        self.source.commit_on_checkpoint = commit;
        self
    }

    /// What to do with a record that does not decode (default: fail).
    pub fn bad_records(mut self, policy: BadRecordPolicy) -> Self {
        self.source.policy = policy;
        self
    }

    /// Reach a secured cluster (TLS, SASL); see [`KafkaSecurity`].
    pub fn security(mut self, security: KafkaSecurity) -> Self {
        self.source.client.properties.extend(security.properties());
        self
    }

    /// Any librdkafka consumer property (security, fetch sizes, `isolation.level`,
    /// ...). `isolation.level` defaults to `read_committed`.
    pub fn property(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        let key = key.into();
        if ClientProperties::owned(&key) {
            self.bad_property = Some(key.clone());
        }
        self.source.client.properties.push((key, value.into()));
        self
    }

    /// How long the brokers may stay unreachable before the source fails (default
    /// 60 s). librdkafka reconnects by itself: until then, all brokers down, transport
    /// failures and timeouts are waited out, not failed on. A silent network (a stall)
    /// is noticed after librdkafka's `socket.timeout.ms` (default 60 s), so the task
    /// fails at most that plus this after the network went away.
    pub fn reconnect_timeout(mut self, timeout: Duration) -> Self {
        self.source.reconnect_timeout = timeout;
        self
    }

    /// Records taken from the consumer per step (default 500).
    pub fn max_records_per_poll(mut self, n: usize) -> Self {
        self.source.max_records_per_poll = n;
        self
    }

    /// Validate and build; the error names the bad option.
    pub fn build(self) -> Result<KafkaSource<T>> {
        let mut s = self.source;
        if let Some(key) = self.bad_property {
            return Err(StreamError::invalid("property", key, "set by the connector; use the builder's own option"));
        }
        if s.client.bootstrap.trim().is_empty() {
            return Err(StreamError::invalid("bootstrap_servers", "\"\"", "give at least one host:port"));
        }
        s.client.validate()?;
        if let Some(pattern) = self.pattern {
            let regex = Regex::new(&format!("^(?:{pattern})$")).map_err(|e| {
                StreamError::invalid("topic_pattern", &pattern, format!("not a regular expression: {e}"))
            })?;
            s.topics = Some(Topics::Pattern(regex));
        }
        match &s.topics {
            None => return Err(StreamError::invalid("topics", "none", "call topics([...]) or topic_pattern(..)")),
            Some(Topics::List(list)) if list.is_empty() || list.iter().any(|t| t.is_empty()) => {
                return Err(StreamError::invalid("topics", format!("{list:?}"), "give at least one non-empty name"));
            }
            _ => {}
        }
        if matches!(s.starting, StartingOffsets::Committed { .. }) && s.group_id.is_none() {
            return Err(StreamError::invalid(
                "starting_offsets",
                "Committed",
                "reading committed offsets needs a group_id",
            ));
        }
        if s.max_records_per_poll == 0 {
            return Err(StreamError::invalid("max_records_per_poll", 0, "must be at least 1"));
        }
        if s.reconnect_timeout.is_zero() {
            return Err(StreamError::invalid("reconnect_timeout", "0s", "must be greater than zero"));
        }
        if s.discovery == Some(Duration::ZERO) {
            return Err(StreamError::invalid("partition_discovery_interval", "0s", "must be > 0, or None"));
        }
        if s.group_id.is_none() {
            s.commit_on_checkpoint = false;
        }
        if s.stopping.is_some() {
            s.discovery = None;
        }
        Ok(s)
    }
}

/// Transactional ids per subtask unless `transactional_id_pool_size` says otherwise.
const DEFAULT_POOL_SIZE: u64 = 8;

/// Builder of [`crate::KafkaSink`].
pub struct KafkaSinkBuilder<T: 'static> {
    client: ClientProperties,
    guarantee: DeliveryGuarantee,
    serializer: Arc<dyn KafkaSerializer<T>>,
    prefix: Option<String>,
    pool_size: u64,
    marker_topic: Option<String>,
    transaction_timeout: Duration,
    transaction_call_timeout: Duration,
    max_checkpoint_duration: Duration,
    max_restart_duration: Duration,
    records_in_checkpoint: bool,
    hidden_marker_wait: Option<Duration>,
    bad_property: Option<String>,
    /// A topic the writers create (or grow) before writing: a repartition topic.
    pub(crate) own_topic: Option<(String, usize)>,
}

impl<T: Send + 'static> KafkaSinkBuilder<T> {
    /// The builder [`crate::KafkaSink::builder`] starts from.
    pub(crate) fn new(bootstrap_servers: String, serializer: Arc<dyn KafkaSerializer<T>>) -> Self {
        KafkaSinkBuilder {
            client: ClientProperties { bootstrap: bootstrap_servers, properties: Vec::new() },
            guarantee: DeliveryGuarantee::AtLeastOnce,
            serializer,
            prefix: None,
            pool_size: DEFAULT_POOL_SIZE,
            marker_topic: None,
            transaction_timeout: Duration::from_secs(15 * 60),
            transaction_call_timeout: Duration::from_secs(30),
            max_checkpoint_duration: Duration::from_secs(10 * 60),
            max_restart_duration: Duration::from_secs(60),
            records_in_checkpoint: false,
            hidden_marker_wait: None,
            bad_property: None,
            own_topic: None,
        }
    }

    /// `None`, `AtLeastOnce` (default) or `ExactlyOnce` (needs a transactional id
    /// prefix). `AtMostOnce` is refused.
    pub fn delivery_guarantee(mut self, guarantee: DeliveryGuarantee) -> Self {
        self.guarantee = guarantee;
        self
    }

    /// Prefix of the transactional ids (`<prefix>-<subtask>-<slot>`): unique per job and
    /// stable across its restarts. A job run as several replicas
    /// ([`stream_core::Replica`]) gives every replica the same prefix: each adds
    /// `-r<index>` to it (and to the marker topic), so that replicas do not fence
    /// each other.
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

    /// The longest one step of the exactly-once sink's transactions waits for the
    /// brokers (default 30 s): initialising a producer (which fences its id),
    /// committing, creating the marker topic, reading a marker back in recovery, and,
    /// at a checkpoint, waiting for the open transaction's deliveries (failing once
    /// no delivery report came for this long, rather than after the producer's
    /// `message.timeout.ms`, 300 s by default). A broker or network that stops
    /// answering fails the step after it, with an error naming this option, and the
    /// job restarts; a commit that fails is recovered first, so a silent commit
    /// fails after about twice this. Flink's Kafka producer bounds its calls with
    /// `max.block.ms` the same way.
    pub fn transaction_call_timeout(mut self, timeout: Duration) -> Self {
        self.transaction_call_timeout = timeout;
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

    /// For a test broker only: how long recovery waits for a commit marker that a
    /// transaction still open hides, before it takes the marker's transaction as
    /// aborted and writes its records again.
    ///
    /// Recovery fences a transactional id and then reads whether its transaction's
    /// marker is visible. Kafka aborts a fenced id's open transaction at once, so the
    /// read soon passes the marker; by default recovery waits for that up to the
    /// transaction timeout (by then the broker has aborted any transaction) plus
    /// [`transaction_call_timeout`](Self::transaction_call_timeout), and then fails
    /// naming this option rather than guess. Some test brokers (noida-db after a
    /// restart) never settle a fenced transaction; with this set, recovery takes the
    /// marker as aborted after `wait`, and if that transaction had in fact committed,
    /// its records are written twice. Never set it against a real Kafka cluster.
    pub fn hidden_marker_wait(mut self, wait: Duration) -> Self {
        self.hidden_marker_wait = Some(wait);
        self
    }

    /// Reach a secured cluster (TLS, SASL); see [`KafkaSecurity`].
    pub fn security(mut self, security: KafkaSecurity) -> Self {
        self.client.properties.extend(security.properties());
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

    /// Check every option; the error names the bad one. (`build`, next to the sink
    /// in `sink/`, turns what this returns into a [`crate::KafkaSink`].)
    pub(crate) fn validate(self) -> Result<KafkaSinkOptions<T>> {
        if let Some(key) = self.bad_property {
            return Err(StreamError::invalid("property", key, "set by the connector; use the builder's own option"));
        }
        if self.client.bootstrap.trim().is_empty() {
            return Err(StreamError::invalid("bootstrap_servers", "\"\"", "give at least one host:port"));
        }
        self.client.validate()?;
        if self.guarantee == DeliveryGuarantee::AtMostOnce {
            return Err(StreamError::invalid(
                "delivery_guarantee",
                self.guarantee,
                "the Kafka sink offers none, at-least-once or exactly-once",
            ));
        }
        let exactly_once = if self.guarantee == DeliveryGuarantee::ExactlyOnce {
            let prefix = self.prefix.filter(|p| !p.is_empty()).ok_or_else(|| {
                StreamError::invalid("transactional_id_prefix", "none", "exactly-once needs a prefix unique to the job")
            })?;
            if self.transaction_timeout < Duration::from_secs(1) {
                return Err(StreamError::invalid(
                    "transaction_timeout",
                    format!("{:?}", self.transaction_timeout),
                    "librdkafka takes 1 s at least (transaction.timeout.ms >= 1000); give more than the longest \
                     checkpoint plus the longest restart",
                ));
            }
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
            if self.transaction_call_timeout < Duration::from_millis(100)
                || self.transaction_call_timeout >= self.transaction_timeout
            {
                return Err(StreamError::invalid(
                    "transaction_call_timeout",
                    format!("{:?}", self.transaction_call_timeout),
                    "give at least 100 ms and less than transaction_timeout",
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
            Some(ExactlyOnceOptions {
                prefix,
                pool_size: self.pool_size,
                transaction_timeout: self.transaction_timeout,
                call_timeout: self.transaction_call_timeout,
                marker_topic,
                records_in_checkpoint: self.records_in_checkpoint,
                hidden_marker_wait: self.hidden_marker_wait,
            })
        } else {
            None
        };
        Ok(KafkaSinkOptions {
            client: self.client,
            guarantee: self.guarantee,
            serializer: self.serializer,
            exactly_once,
            own_topic: self.own_topic,
            call_timeout: self.transaction_call_timeout,
        })
    }
}

/// A sink's options, checked.
pub(crate) struct KafkaSinkOptions<T: 'static> {
    pub(crate) client: ClientProperties,
    pub(crate) guarantee: DeliveryGuarantee,
    pub(crate) serializer: Arc<dyn KafkaSerializer<T>>,
    /// Set exactly for exactly-once.
    pub(crate) exactly_once: Option<ExactlyOnceOptions>,
    pub(crate) own_topic: Option<(String, usize)>,
    pub(crate) call_timeout: Duration,
}

/// The options of the exactly-once sink's transactions, checked.
#[derive(Clone)]
pub(crate) struct ExactlyOnceOptions {
    pub(crate) prefix: String,
    pub(crate) pool_size: u64,
    pub(crate) transaction_timeout: Duration,
    pub(crate) call_timeout: Duration,
    pub(crate) marker_topic: String,
    pub(crate) records_in_checkpoint: bool,
    /// See [`KafkaSinkBuilder::hidden_marker_wait`]; `None`: wait for the broker.
    pub(crate) hidden_marker_wait: Option<Duration>,
}

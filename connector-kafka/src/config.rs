//! `KafkaSource` and its builder (validated options).

use std::sync::Arc;
use std::time::Duration;

use connector_base::schema::BadRecordPolicy;
use regex::Regex;
use stream_core::api::{Boundedness, Source, TaskContext};
use stream_core::{Result, StreamError};

use crate::client::ClientProperties;
use crate::offsets::{StartingOffsets, StoppingOffsets};
use crate::record::KafkaDeserializer;
use crate::source::{KafkaEnumerator, KafkaEnumeratorState, KafkaReader, KafkaSplit};

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

impl<T: Send + 'static> Source for KafkaSource<T> {
    type Output = T;
    type Split = KafkaSplit;
    type EnumeratorState = KafkaEnumeratorState;
    type Enumerator = KafkaEnumerator;
    type Reader = KafkaReader<T>;

    fn boundedness(&self) -> Boundedness {
        if self.stopping.is_some() { Boundedness::Bounded } else { Boundedness::ContinuousUnbounded }
    }

    async fn create_enumerator(
        &self,
        parallelism: usize,
        restored: Option<KafkaEnumeratorState>,
    ) -> Result<KafkaEnumerator> {
        KafkaEnumerator::new(self, parallelism, restored.unwrap_or_default())
    }

    async fn create_reader(&self, ctx: &TaskContext) -> Result<KafkaReader<T>> {
        KafkaReader::new(self, ctx)
    }
}

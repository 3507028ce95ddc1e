//! The public source and sink types, their builders and the validation of every
//! option.

use std::sync::Arc;
use std::time::Duration;

use connector_base::schema::{BadRecordPolicy, DeserializationSchema, SerializationSchema};
use stream_core::{Result, StreamError};

use crate::position::Position;

/// The key of a record, which routes it to a partition (`None`: round robin).
pub(crate) type KeyOf<T> = Arc<dyn Fn(&T) -> Option<String> + Send + Sync>;

/// Pulsar's default `maxMessageSize`.
const DEFAULT_MAX_MESSAGE_SIZE: usize = 5 * 1024 * 1024;

/// Writes records to a Pulsar topic (partitioned or not) and awaits every send
/// receipt at each checkpoint: at-least-once. Build with [`PulsarSinkBuilder::new`].
pub struct PulsarSink<T> {
    pub(crate) url: String,
    pub(crate) topic: String,
    pub(crate) schema: Arc<dyn SerializationSchema<T>>,
    pub(crate) key: Option<KeyOf<T>>,
    pub(crate) batch_size: Option<u32>,
    pub(crate) max_pending: usize,
    pub(crate) max_message_size: usize,
    pub(crate) send_timeout: Duration,
    pub(crate) connect_timeout: Duration,
}

impl<T> std::fmt::Debug for PulsarSink<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PulsarSink")
            .field("url", &connector_base::redact_url(&self.url))
            .field("topic", &self.topic)
            .field("keyed", &self.key.is_some())
            .field("batch_size", &self.batch_size)
            .field("max_pending", &self.max_pending)
            .field("send_timeout", &self.send_timeout)
            .finish_non_exhaustive()
    }
}

/// Builder of [`PulsarSink`].
pub struct PulsarSinkBuilder<T> {
    sink: PulsarSink<T>,
}

impl<T: Send + 'static> PulsarSinkBuilder<T> {
    /// Write to `topic` (`persistent://tenant/namespace/name`, or a short name in
    /// `public/default`) of the broker at `url` (`pulsar://host:6650`), each record
    /// encoded by `schema`.
    pub fn new(url: impl Into<String>, topic: impl Into<String>, schema: impl SerializationSchema<T>) -> Self {
        PulsarSinkBuilder {
            sink: PulsarSink {
                url: url.into(),
                topic: topic.into(),
                schema: Arc::new(schema),
                key: None,
                batch_size: None,
                max_pending: 1_000,
                max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
                send_timeout: Duration::from_secs(30),
                connect_timeout: Duration::from_secs(30),
            },
        }
    }

    /// Route each record by its key (the message key: the same key, the same
    /// partition, in order); without it, records go round robin.
    pub fn key(mut self, key: impl Fn(&T) -> Option<String> + Send + Sync + 'static) -> Self {
        self.sink.key = Some(Arc::new(key));
        self
    }

    /// Let the client group up to `size` messages into one batch message (Pulsar's
    /// producer batching; at least 2). Off by default.
    pub fn batch_size(mut self, size: u32) -> Self {
        self.sink.batch_size = Some(size);
        self
    }

    /// Messages sent but not yet confirmed before the writer waits for the oldest
    /// receipt (default 1 000).
    pub fn max_pending(mut self, messages: usize) -> Self {
        self.sink.max_pending = messages;
        self
    }

    /// The largest payload sent (default 5 MiB, the brokers' default
    /// `maxMessageSize`): a larger record fails the job at once naming its size,
    /// where a broker would drop the connection or not answer.
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.sink.max_message_size = bytes;
        self
    }

    /// How long one send receipt may take (default 30 s); then the checkpoint fails
    /// and the job restarts from the last one.
    pub fn send_timeout(mut self, timeout: Duration) -> Self {
        self.sink.send_timeout = timeout;
        self
    }

    /// How long connecting and creating the producer may take at start (default 30 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.sink.connect_timeout = timeout;
        self
    }

    /// Validate and build; the error names the bad option and value.
    pub fn build(self) -> Result<PulsarSink<T>> {
        let sink = self.sink;
        validate_url(&sink.url)?;
        if sink.topic.trim().is_empty() {
            return Err(StreamError::invalid("topic", "\"\"", "a topic name"));
        }
        if let Some(size) = sink.batch_size
            && size < 2
        {
            return Err(StreamError::invalid("batch_size", size, "at least 2 (leave it unset for no batching)"));
        }
        if sink.max_message_size == 0 {
            return Err(StreamError::invalid("max_message_size", 0, "at least 1 byte"));
        }
        if sink.max_pending == 0 {
            return Err(StreamError::invalid("max_pending", 0, "at least 1"));
        }
        for (option, value) in [("send_timeout", sink.send_timeout), ("connect_timeout", sink.connect_timeout)] {
            if value.is_zero() {
                return Err(StreamError::invalid(option, "0s", "a positive duration"));
            }
        }
        Ok(sink)
    }
}

/// A service URL: `pulsar://` or `pulsar+ssl://`, with a host.
pub(crate) fn validate_url(url: &str) -> Result<()> {
    let shown = connector_base::redact_url(url);
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err(StreamError::invalid("url", shown, "pulsar://host:port or pulsar+ssl://host:port"));
    };
    if !matches!(scheme, "pulsar" | "pulsar+ssl") || rest.trim_matches('/').is_empty() {
        return Err(StreamError::invalid("url", shown, "pulsar://host:port or pulsar+ssl://host:port"));
    }
    Ok(())
}

/// Where a split starts when its subscription has no position yet (a new
/// subscription); a restore starts after the checkpointed position instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StartCursor {
    /// The oldest message kept (default).
    #[default]
    Earliest,
    /// Only messages published after the reader subscribes.
    Latest,
    /// Messages published at or after this time (milliseconds since the epoch): the
    /// split reads from the earliest and skips older ones (no seek, which pulsar-lite
    /// does not honour).
    PublishTime(u64),
    /// From this message on (included) in its partition (`Position::partition`, -1
    /// for a topic without partitions); the topic's other partitions from the
    /// earliest. The split reads from the earliest and skips what comes before.
    MessageId(Position),
}

/// Where a bounded read of a split ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopCursor {
    /// At the partition's last message when the reader first subscribes to it.
    Latest,
    /// Before the first message published at or after this time (milliseconds since
    /// the epoch), or at the partition's last message when the reader first
    /// subscribes, whichever comes first: the read always ends.
    PublishTime(u64),
}

/// Reads Pulsar topics, one split per partition, each read by an Exclusive
/// subscription; the last message id read per split is checkpoint state, and the
/// position of a completed checkpoint is acknowledged cumulatively: exactly-once.
/// Build with [`PulsarSourceBuilder::new`].
pub struct PulsarSource<T> {
    pub(crate) url: String,
    pub(crate) topics: Vec<String>,
    pub(crate) subscription: String,
    pub(crate) schema: Arc<dyn DeserializationSchema<T>>,
    pub(crate) bad_records: BadRecordPolicy,
    pub(crate) start: StartCursor,
    pub(crate) stop: Option<StopCursor>,
    pub(crate) discovery: Option<Duration>,
    pub(crate) connect_timeout: Duration,
}

impl<T> std::fmt::Debug for PulsarSource<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PulsarSource")
            .field("url", &connector_base::redact_url(&self.url))
            .field("topics", &self.topics)
            .field("subscription", &self.subscription)
            .field("start", &self.start)
            .field("stop", &self.stop)
            .field("discovery", &self.discovery)
            .finish_non_exhaustive()
    }
}

/// Builder of [`PulsarSource`].
pub struct PulsarSourceBuilder<T> {
    source: PulsarSource<T>,
}

impl<T: Send + 'static> PulsarSourceBuilder<T> {
    /// Read `topics` of the broker at `url` through subscription `subscription` (one
    /// Exclusive subscription per partition, of that name), each message decoded by
    /// `schema`.
    pub fn new<S: Into<String>>(
        url: impl Into<String>,
        topics: impl IntoIterator<Item = S>,
        subscription: impl Into<String>,
        schema: impl DeserializationSchema<T>,
    ) -> Self {
        PulsarSourceBuilder {
            source: PulsarSource {
                url: url.into(),
                topics: topics.into_iter().map(Into::into).collect(),
                subscription: subscription.into(),
                schema: Arc::new(schema),
                bad_records: BadRecordPolicy::Fail,
                start: StartCursor::default(),
                stop: None,
                discovery: None,
                connect_timeout: Duration::from_secs(30),
            },
        }
    }

    /// Where a new subscription starts (default: the earliest message).
    pub fn start_cursor(mut self, start: StartCursor) -> Self {
        self.source.start = start;
        self
    }

    /// Stop each partition at its last message when the reader first subscribes to
    /// it: a bounded read (default: unbounded). The same as
    /// `stop_cursor(StopCursor::Latest)`.
    pub fn bounded(self) -> Self {
        self.stop_cursor(StopCursor::Latest)
    }

    /// End each partition at `stop`: a bounded read (default: unbounded).
    pub fn stop_cursor(mut self, stop: StopCursor) -> Self {
        self.source.stop = Some(stop);
        self
    }

    /// Look for new partitions every `interval` (default: only at start).
    pub fn partition_discovery(mut self, interval: Duration) -> Self {
        self.source.discovery = Some(interval);
        self
    }

    /// What to do with a message the schema cannot decode (default: fail).
    pub fn bad_records(mut self, policy: BadRecordPolicy) -> Self {
        self.source.bad_records = policy;
        self
    }

    /// How long connecting and subscribing may take, attempts included (default
    /// 30 s); also how long a broker may be unreachable before the job fails.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.source.connect_timeout = timeout;
        self
    }

    /// Validate and build; the error names the bad option and value.
    pub fn build(self) -> Result<PulsarSource<T>> {
        let source = self.source;
        validate_url(&source.url)?;
        if source.topics.is_empty() || source.topics.iter().any(|t| t.trim().is_empty()) {
            return Err(StreamError::invalid("topics", format!("{:?}", source.topics), "one or more topic names"));
        }
        if source.subscription.trim().is_empty() {
            return Err(StreamError::invalid("subscription", "\"\"", "a subscription name"));
        }
        if source.discovery.is_some_and(|d| d.is_zero()) {
            return Err(StreamError::invalid("partition_discovery", "0s", "a positive interval"));
        }
        if source.connect_timeout.is_zero() {
            return Err(StreamError::invalid("connect_timeout", "0s", "a positive duration"));
        }
        Ok(source)
    }
}

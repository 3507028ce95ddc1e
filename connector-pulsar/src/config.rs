//! The public sink type, its builder and the validation of every option.

use std::sync::Arc;
use std::time::Duration;

use connector_base::schema::SerializationSchema;
use stream_core::{Result, StreamError};

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

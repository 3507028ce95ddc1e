//! Builders of the sink and the source, with validated options.

use std::sync::Arc;
use std::time::Duration;

use connector_base::DeliveryGuarantee;
use connector_base::async_sink::{AsyncSink, AsyncSinkOptions, ServiceLimits};
use stream_core::retry::RetryPolicy;
use stream_core::{Result, StreamError};

use crate::command::{CommandKind, RedisCommand};
use crate::connection::RedisEndpoint;
use crate::stream_id::StreamId;

type Mapper<T> = Arc<dyn Fn(T) -> RedisCommand + Send + Sync>;

/// What one pipeline may hold: no limit of its own but Redis's largest value (512 MB)
/// per command.
const PIPELINE: ServiceLimits = ServiceLimits {
    api: "a Redis pipeline",
    max_batch_size: usize::MAX,
    max_batch_size_in_bytes: usize::MAX,
    max_record_size_in_bytes: 512 * 1024 * 1024,
};

/// Writes records as Redis commands of one declared kind, pipelined (connector-base's
/// batching, retrying [`AsyncSink`]). Build with [`RedisSinkBuilder::new`].
pub type RedisSink<T> = AsyncSink<T, RedisTarget<T>>;

/// The server a [`RedisSink`] writes to and how records become commands.
pub struct RedisTarget<T> {
    pub(crate) endpoint: RedisEndpoint,
    pub(crate) kind: CommandKind,
    pub(crate) mapper: Mapper<T>,
    pub(crate) guarantee: DeliveryGuarantee,
}

impl<T> std::fmt::Debug for RedisTarget<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisSink")
            .field("endpoint", &self.endpoint)
            .field("kind", &self.kind)
            .field("guarantee", &self.guarantee)
            .finish()
    }
}

/// Options of a [`RedisSink`].
pub struct RedisSinkBuilder<T> {
    endpoint: RedisEndpoint,
    kind: CommandKind,
    mapper: Mapper<T>,
    guarantee: DeliveryGuarantee,
    options: AsyncSinkOptions,
}

impl<T: Send + 'static> RedisSinkBuilder<T> {
    /// A sink writing `kind` commands made by `mapper` (which must return that kind).
    pub fn new(
        endpoint: RedisEndpoint,
        kind: CommandKind,
        mapper: impl Fn(T) -> RedisCommand + Send + Sync + 'static,
    ) -> Self {
        let mut options = AsyncSinkOptions::new(PIPELINE);
        options.max_batch_size = 500;
        options.max_batch_size_in_bytes = 5 * 1024 * 1024;
        options.max_record_size_in_bytes = 1024 * 1024;
        options.max_time_in_buffer = Duration::from_millis(5);
        options.request_timeout = Duration::from_secs(60);
        RedisSinkBuilder {
            endpoint,
            kind,
            mapper: Arc::new(mapper),
            guarantee: DeliveryGuarantee::AtLeastOnce,
            options,
        }
    }

    /// At-least-once (default) or exactly-once (idempotent kinds only).
    pub fn delivery_guarantee(mut self, guarantee: DeliveryGuarantee) -> Self {
        self.guarantee = guarantee;
        self
    }

    connector_base::async_sink_options!(
        options,
        "default 4; exactly-once needs 1, so that a retried pipeline is applied before anything newer"
    );

    /// Validate; the error names the bad option and value.
    pub fn build(self) -> Result<RedisSink<T>> {
        self.endpoint.validate()?;
        match self.guarantee {
            g @ (DeliveryGuarantee::None | DeliveryGuarantee::AtMostOnce) => {
                return Err(StreamError::invalid(
                    "delivery_guarantee",
                    g,
                    "the Redis sink gives at-least-once or exactly-once; choose one",
                ));
            }
            DeliveryGuarantee::ExactlyOnce if !self.kind.is_idempotent() => {
                return Err(StreamError::invalid(
                    "delivery_guarantee",
                    format!("exactly-once for {}", self.kind.name()),
                    "only idempotent commands (SET, HSET, SADD, ZADD, XADD with explicit ids) can be exactly-once; \
                     a repeated INCRBY, LPUSH, RPUSH, PUBLISH or XADD with server ids is applied twice: use at-least-once",
                ));
            }
            _ => {}
        }
        let async_config = self.options.build(self.guarantee, 4)?;
        let target =
            RedisTarget { endpoint: self.endpoint, kind: self.kind, mapper: self.mapper, guarantee: self.guarantee };
        Ok(AsyncSink::new(target, async_config))
    }
}

/// Where a stream without checkpointed position starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartPosition {
    /// The first entry.
    Beginning,
    /// After the last entry present when the job first starts (new entries only).
    End,
    /// At this entry id (`<ms>-<seq>`), inclusive.
    Id(String),
}

/// Reads Redis Streams. Build with [`RedisStreamsSource::builder`].
#[derive(Debug, Clone)]
pub struct RedisStreamsSource {
    pub(crate) endpoint: RedisEndpoint,
    pub(crate) streams: Vec<String>,
    pub(crate) start: StartPosition,
    pub(crate) bounded: bool,
    pub(crate) group: Option<ConsumerGroup>,
    pub(crate) batch_size: usize,
    pub(crate) retry: RetryPolicy,
}

/// Consumer-group mode: entries are read with `XREADGROUP` and acknowledged with
/// `XACK` when the checkpoint that covers them completes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerGroup {
    /// Group name (created at the start position if missing).
    pub group: String,
    /// Consumer name prefix; each stream is read by consumer `<prefix>-<stream>`.
    pub consumer: String,
}

impl RedisStreamsSource {
    /// A source reading the given streams (see the options).
    pub fn builder(endpoint: RedisEndpoint) -> RedisStreamsSourceBuilder {
        RedisStreamsSourceBuilder {
            source: RedisStreamsSource {
                endpoint,
                streams: Vec::new(),
                start: StartPosition::Beginning,
                bounded: false,
                group: None,
                batch_size: 500,
                retry: RetryPolicy::fixed(Duration::from_millis(200)).give_up_after(Duration::from_secs(15)),
            },
        }
    }

    /// The guarantee it gives: exactly-once, or at-least-once in consumer-group mode.
    pub fn guarantee(&self) -> DeliveryGuarantee {
        if self.group.is_some() { DeliveryGuarantee::AtLeastOnce } else { DeliveryGuarantee::ExactlyOnce }
    }
}

/// Options of a [`RedisStreamsSource`].
#[derive(Debug, Clone)]
pub struct RedisStreamsSourceBuilder {
    source: RedisStreamsSource,
}

impl RedisStreamsSourceBuilder {
    /// Stream keys to read (one split each).
    pub fn streams(mut self, keys: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.source.streams.extend(keys.into_iter().map(Into::into));
        self
    }

    /// Where a stream without checkpointed position starts (default: the beginning).
    pub fn start(mut self, start: StartPosition) -> Self {
        self.source.start = start;
        self
    }

    /// Stop at the last entry each stream held when the job first started.
    pub fn bounded(mut self) -> Self {
        self.source.bounded = true;
        self
    }

    /// Read through a consumer group (at-least-once); see [`ConsumerGroup`].
    pub fn consumer_group(mut self, group: impl Into<String>, consumer: impl Into<String>) -> Self {
        self.source.group = Some(ConsumerGroup { group: group.into(), consumer: consumer.into() });
        self
    }

    /// Entries per read (`COUNT`, default 500).
    pub fn batch_size(mut self, n: usize) -> Self {
        self.source.batch_size = n;
        self
    }

    /// How a read retries a lost connection (a server restart) before the reader
    /// fails and the job restarts from its checkpoint (default: every 200 ms, with
    /// jitter, for 15 s). A refused command is not retried.
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.source.retry = policy;
        self
    }

    /// Validate; the error names the bad option and value.
    pub fn build(self) -> Result<RedisStreamsSource> {
        let s = self.source;
        s.retry.validate("retry")?;
        s.endpoint.validate()?;
        if s.streams.is_empty() {
            return Err(StreamError::invalid("streams", "[]", "name at least one stream key"));
        }
        if let Some(key) = s.streams.iter().find(|k| k.is_empty()) {
            return Err(StreamError::invalid("streams", format!("{key:?}"), "a stream key must not be empty"));
        }
        if s.batch_size == 0 {
            return Err(StreamError::invalid("batch_size", 0, "must be at least 1"));
        }
        if let StartPosition::Id(id) = &s.start {
            StreamId::parse(id)
                .ok_or_else(|| StreamError::invalid("start", id, "an entry id is `<ms>-<seq>` or `<ms>`"))?;
        }
        if let Some(g) = &s.group {
            if g.group.is_empty() || g.consumer.is_empty() {
                return Err(StreamError::invalid("consumer_group", format!("{g:?}"), "group and consumer need names"));
            }
            if s.bounded {
                return Err(StreamError::invalid(
                    "bounded",
                    "with consumer_group",
                    "bounded reads use stream positions; drop one of the two",
                ));
            }
        }
        Ok(s)
    }
}

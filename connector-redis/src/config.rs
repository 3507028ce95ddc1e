//! Builders of the sink and the source, with validated options.

use std::sync::Arc;
use std::time::Duration;

use connector_base::DeliveryGuarantee;
use connector_base::async_sink::AsyncSinkConfig;
use stream_core::{Result, StreamError};

use crate::command::{CommandKind, RedisCommand};
use crate::connection::RedisEndpoint;
use crate::source::StartPosition;

type Mapper<T> = Arc<dyn Fn(T) -> RedisCommand + Send + Sync>;

/// Writes records as Redis commands of one declared kind. Build with
/// [`RedisSink::builder`].
pub struct RedisSink<T> {
    pub(crate) endpoint: RedisEndpoint,
    pub(crate) kind: CommandKind,
    pub(crate) mapper: Mapper<T>,
    pub(crate) guarantee: DeliveryGuarantee,
    pub(crate) async_config: AsyncSinkConfig,
}

impl<T> std::fmt::Debug for RedisSink<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisSink")
            .field("endpoint", &self.endpoint)
            .field("kind", &self.kind)
            .field("guarantee", &self.guarantee)
            .finish()
    }
}

impl<T: Send + 'static> RedisSink<T> {
    /// A sink writing `kind` commands made by `mapper` (which must return that kind).
    pub fn builder(
        endpoint: RedisEndpoint,
        kind: CommandKind,
        mapper: impl Fn(T) -> RedisCommand + Send + Sync + 'static,
    ) -> RedisSinkBuilder<T> {
        RedisSinkBuilder {
            endpoint,
            kind,
            mapper: Arc::new(mapper),
            guarantee: DeliveryGuarantee::AtLeastOnce,
            max_batch_size: 500,
            max_in_flight_requests: None,
            max_buffered_requests: 10_000,
            max_time_in_buffer: Duration::from_millis(5),
            request_timeout: Duration::from_secs(60),
        }
    }
}

/// Options of a [`RedisSink`].
pub struct RedisSinkBuilder<T> {
    endpoint: RedisEndpoint,
    kind: CommandKind,
    mapper: Mapper<T>,
    guarantee: DeliveryGuarantee,
    max_batch_size: usize,
    max_in_flight_requests: Option<usize>,
    max_buffered_requests: usize,
    max_time_in_buffer: Duration,
    request_timeout: Duration,
}

impl<T> RedisSinkBuilder<T> {
    /// At-least-once (default) or exactly-once (idempotent kinds only).
    pub fn delivery_guarantee(mut self, guarantee: DeliveryGuarantee) -> Self {
        self.guarantee = guarantee;
        self
    }

    /// Commands per pipeline (default 500).
    pub fn max_batch_size(mut self, n: usize) -> Self {
        self.max_batch_size = n;
        self
    }

    /// Pipelines in flight at once (default 4 for at-least-once; exactly-once needs 1,
    /// so that a retried pipeline is applied before anything newer).
    pub fn max_in_flight_requests(mut self, n: usize) -> Self {
        self.max_in_flight_requests = Some(n);
        self
    }

    /// Commands buffered before writes wait (default 10 000); part of checkpoints.
    pub fn max_buffered_requests(mut self, n: usize) -> Self {
        self.max_buffered_requests = n;
        self
    }

    /// Send a partial pipeline once its oldest command waited this long (default 5 ms).
    pub fn max_time_in_buffer(mut self, d: Duration) -> Self {
        self.max_time_in_buffer = d;
        self
    }

    /// Give up (fail the job) when a pipeline is not answered within this time, retries
    /// included (default 60 s).
    pub fn request_timeout(mut self, d: Duration) -> Self {
        self.request_timeout = d;
        self
    }

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
        let in_flight = AsyncSinkConfig::in_flight_for(self.guarantee, self.max_in_flight_requests, 4)?;
        let async_config = AsyncSinkConfig::builder()
            .max_batch_size(self.max_batch_size)
            .max_in_flight_requests(in_flight)
            .max_buffered_requests(self.max_buffered_requests)
            .max_time_in_buffer(self.max_time_in_buffer)
            .request_timeout(self.request_timeout, true)
            .build()?;
        Ok(RedisSink {
            endpoint: self.endpoint,
            kind: self.kind,
            mapper: self.mapper,
            guarantee: self.guarantee,
            async_config,
        })
    }
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

    /// Validate; the error names the bad option and value.
    pub fn build(self) -> Result<RedisStreamsSource> {
        let s = self.source;
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
            crate::source::StreamId::parse(id)
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

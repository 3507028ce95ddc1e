//! Builders of the source and the sink, with validated options.

use std::sync::Arc;
use std::time::Duration;

use connector_base::DeliveryGuarantee;
use connector_base::schema::{BadRecordPolicy, DeserializationSchema};
use stream_core::{Result, StreamError};

use crate::connection::{redact, validate};
use crate::message::MessageSerializer;

/// The longest one broker operation may take unless `operation_timeout` says otherwise.
const DEFAULT_OPERATION_TIMEOUT: Duration = Duration::from_secs(30);
/// Most consumers (channels) one source subtask opens.
const MAX_CONSUMERS: usize = 16;

/// Checks an `operation_timeout` option.
fn check_operation_timeout(timeout: Duration) -> Result<()> {
    if timeout.is_zero() {
        return Err(StreamError::invalid("operation_timeout", "0s", "must be > 0 (for example 30 s)"));
    }
    Ok(())
}

/// How the source declares its queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum QueueDeclaration {
    /// Only check that it exists (`passive`); a missing queue is an error naming it.
    #[default]
    MustExist,
    /// Declare it (created when missing) with these flags.
    Declare {
        /// Survives a broker restart.
        durable: bool,
        /// Deleted when its last consumer goes.
        auto_delete: bool,
    },
}

/// Reads one queue. Build with [`RabbitMqSource::builder`].
pub struct RabbitMqSource<T> {
    pub(crate) url: String,
    pub(crate) queue: String,
    pub(crate) schema: Arc<dyn DeserializationSchema<T>>,
    pub(crate) guarantee: DeliveryGuarantee,
    pub(crate) declaration: QueueDeclaration,
    pub(crate) prefetch: u16,
    pub(crate) consumers: usize,
    pub(crate) early_checkpoints: bool,
    pub(crate) bad_records: BadRecordPolicy,
    pub(crate) connect_timeout: Duration,
    pub(crate) operation_timeout: Duration,
}

// Not derived: `T` itself need not be `Clone`.
impl<T> Clone for RabbitMqSource<T> {
    fn clone(&self) -> Self {
        RabbitMqSource {
            url: self.url.clone(),
            queue: self.queue.clone(),
            schema: self.schema.clone(),
            guarantee: self.guarantee,
            declaration: self.declaration,
            prefetch: self.prefetch,
            consumers: self.consumers,
            early_checkpoints: self.early_checkpoints,
            bad_records: self.bad_records.clone(),
            connect_timeout: self.connect_timeout,
            operation_timeout: self.operation_timeout,
        }
    }
}

impl<T> std::fmt::Debug for RabbitMqSource<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RabbitMqSource")
            .field("url", &redact(&self.url))
            .field("queue", &self.queue)
            .field("guarantee", &self.guarantee)
            .field("prefetch", &self.prefetch)
            .field("consumers", &self.consumers)
            .field("early_checkpoints", &self.early_checkpoints)
            .finish()
    }
}

impl<T: Send + 'static> RabbitMqSource<T> {
    /// A source reading `queue` at `url` (`amqp://user:pass@host:5672/%2f`), bodies
    /// decoded with `schema` (`Utf8Schema`, `JsonSchema::<T>::new()`, ...).
    pub fn builder(
        url: impl Into<String>,
        queue: impl Into<String>,
        schema: impl DeserializationSchema<T>,
    ) -> RabbitMqSourceBuilder<T> {
        RabbitMqSourceBuilder {
            source: RabbitMqSource {
                url: url.into(),
                queue: queue.into(),
                schema: Arc::new(schema),
                guarantee: DeliveryGuarantee::AtLeastOnce,
                declaration: QueueDeclaration::MustExist,
                prefetch: 10_000,
                consumers: 1,
                early_checkpoints: true,
                bad_records: BadRecordPolicy::Fail,
                connect_timeout: Duration::from_secs(30),
                operation_timeout: DEFAULT_OPERATION_TIMEOUT,
            },
            correlation_ids: false,
        }
    }

    /// The guarantee it gives.
    pub fn guarantee(&self) -> DeliveryGuarantee {
        self.guarantee
    }
}

/// Options of a [`RabbitMqSource`].
pub struct RabbitMqSourceBuilder<T> {
    source: RabbitMqSource<T>,
    correlation_ids: bool,
}

impl<T> RabbitMqSourceBuilder<T> {
    /// At-most-once (auto-ack), at-least-once (default: acknowledged when the
    /// checkpoint covering a message completes) or exactly-once (that, plus
    /// de-duplication by correlation id; needs [`Self::use_correlation_ids`] and
    /// source parallelism 1).
    pub fn delivery_guarantee(mut self, guarantee: DeliveryGuarantee) -> Self {
        self.source.guarantee = guarantee;
        self
    }

    /// Messages carry a unique `correlation_id` set by the publisher (required for
    /// exactly-once; a message without one is then a bad record).
    pub fn use_correlation_ids(mut self, on: bool) -> Self {
        self.correlation_ids = on;
        self
    }

    /// Check that the queue exists (default) or declare it.
    pub fn queue_declaration(mut self, declaration: QueueDeclaration) -> Self {
        self.source.declaration = declaration;
        self
    }

    /// Unacknowledged messages the broker sends ahead to each consumer (QoS
    /// prefetch, default 10 000, at most 65 535). Acknowledging modes acknowledge at
    /// checkpoint completion and ask for a checkpoint at half the window
    /// ([`Self::early_checkpoints`]): a larger window means fewer early checkpoints.
    pub fn prefetch(mut self, n: u16) -> Self {
        self.source.prefetch = n;
        self
    }

    /// Consumers per subtask, each on its own channel with its own prefetch window
    /// (default 1, at most 16). At-least-once may gain from more than one where
    /// early checkpoints are off (one window of 65 535 per 1-s interval caps a
    /// subtask near 65 000 messages/s) or too frequent for its sinks.
    /// Exactly-once needs 1: it proves every redelivery has come from the order in
    /// which the broker delivers to a single consumer.
    pub fn consumers(mut self, n: usize) -> Self {
        self.source.consumers = n;
        self
    }

    /// Ask the job for a checkpoint as soon as half a consumer's prefetch window was
    /// delivered since the last one (default: on; acknowledging modes). The broker
    /// sends nothing more once the window is full, and only a completed checkpoint
    /// acknowledges: without this, a rate above `prefetch` per checkpoint interval
    /// stalls the source until the interval. Early checkpoints still respect the job's
    /// `min_pause` and `max_concurrent`; off, checkpoints come only at the interval.
    pub fn early_checkpoints(mut self, on: bool) -> Self {
        self.source.early_checkpoints = on;
        self
    }

    /// What to do with a body the schema cannot decode (default: fail).
    pub fn bad_records(mut self, policy: BadRecordPolicy) -> Self {
        self.source.bad_records = policy;
        self
    }

    /// How long to keep trying to connect (a broker being restarted; default 30 s).
    pub fn connect_timeout(mut self, d: Duration) -> Self {
        self.source.connect_timeout = d;
        self
    }

    /// The longest one broker operation may take: opening a channel, declaring the
    /// queue, a publisher confirm, an acknowledgement (default 30 s). Past it the task
    /// fails naming the operation, and the job's restart strategy reconnects: a
    /// connection that died without telling lapin cannot stall a checkpoint for ever.
    pub fn operation_timeout(mut self, d: Duration) -> Self {
        self.source.operation_timeout = d;
        self
    }

    /// Validate; the error names the bad option and value.
    pub fn build(self) -> Result<RabbitMqSource<T>> {
        let s = self.source;
        validate(&s.url)?;
        if s.queue.is_empty() {
            return Err(StreamError::invalid("queue", "\"\"", "name the queue to read"));
        }
        check_operation_timeout(s.operation_timeout)?;
        if s.prefetch == 0 {
            return Err(StreamError::invalid("prefetch", 0, "at least 1 (0 would mean unlimited)"));
        }
        if !(1..=MAX_CONSUMERS).contains(&s.consumers) {
            return Err(StreamError::invalid("consumers", s.consumers, format!("1 to {MAX_CONSUMERS}")));
        }
        if s.guarantee == DeliveryGuarantee::ExactlyOnce && s.consumers > 1 {
            return Err(StreamError::invalid(
                "consumers",
                s.consumers,
                "1 for exactly-once, whose de-duplication relies on one consumer's delivery order; \
                 use at-least-once for more consumers",
            ));
        }
        match s.guarantee {
            DeliveryGuarantee::ExactlyOnce if !self.correlation_ids => {
                return Err(StreamError::invalid(
                    "delivery_guarantee",
                    "exactly-once without correlation ids",
                    "exactly-once de-duplicates redelivered messages by correlation id: publish with unique \
                     correlation ids and call use_correlation_ids(true), or use at-least-once",
                ));
            }
            DeliveryGuarantee::None => {
                return Err(StreamError::invalid(
                    "delivery_guarantee",
                    "none",
                    "choose at-most-once, at-least-once or exactly-once",
                ));
            }
            _ => {}
        }
        Ok(s)
    }
}

/// What to do with a message the broker returned as unroutable (`mandatory`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReturnPolicy {
    /// Fail the checkpoint (and the job): nothing is silently dropped (default).
    #[default]
    Fail,
    /// Log it and go on (the message is lost).
    Log,
}

/// Publishes with publisher confirms (at-least-once). Build with
/// [`RabbitMqSink::builder`].
pub struct RabbitMqSink<T> {
    pub(crate) url: String,
    pub(crate) serializer: Arc<dyn MessageSerializer<T>>,
    pub(crate) mandatory: bool,
    pub(crate) returns: ReturnPolicy,
    pub(crate) max_in_flight: usize,
    pub(crate) connect_timeout: Duration,
    pub(crate) operation_timeout: Duration,
}

impl<T> std::fmt::Debug for RabbitMqSink<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RabbitMqSink")
            .field("url", &redact(&self.url))
            .field("mandatory", &self.mandatory)
            .field("returns", &self.returns)
            .field("max_in_flight", &self.max_in_flight)
            .finish()
    }
}

impl<T: Send + 'static> RabbitMqSink<T> {
    /// A sink publishing what `serializer` makes of each record (`ToQueue::new(queue,
    /// Utf8Schema)`, or a closure returning an `OutgoingMessage`).
    pub fn builder(url: impl Into<String>, serializer: impl MessageSerializer<T>) -> RabbitMqSinkBuilder<T> {
        RabbitMqSinkBuilder {
            sink: RabbitMqSink {
                url: url.into(),
                serializer: Arc::new(serializer),
                mandatory: true,
                returns: ReturnPolicy::Fail,
                max_in_flight: 10_000,
                connect_timeout: Duration::from_secs(30),
                operation_timeout: DEFAULT_OPERATION_TIMEOUT,
            },
        }
    }
}

/// Options of a [`RabbitMqSink`].
pub struct RabbitMqSinkBuilder<T> {
    sink: RabbitMqSink<T>,
}

impl<T> RabbitMqSinkBuilder<T> {
    /// Publish as `mandatory` (default true): a message no queue takes comes back
    /// and follows [`Self::return_policy`] instead of vanishing.
    pub fn mandatory(mut self, on: bool) -> Self {
        self.sink.mandatory = on;
        self
    }

    /// What a returned (unroutable) message does (default: fail).
    pub fn return_policy(mut self, policy: ReturnPolicy) -> Self {
        self.sink.returns = policy;
        self
    }

    /// Messages awaiting their confirm before publishing waits (default 10 000).
    pub fn max_in_flight(mut self, n: usize) -> Self {
        self.sink.max_in_flight = n;
        self
    }

    /// How long to keep trying to connect (default 30 s).
    pub fn connect_timeout(mut self, d: Duration) -> Self {
        self.sink.connect_timeout = d;
        self
    }

    /// The longest one broker operation may take: opening a channel, declaring the
    /// queue, a publisher confirm, an acknowledgement (default 30 s). Past it the task
    /// fails naming the operation, and the job's restart strategy reconnects: a
    /// connection that died without telling lapin cannot stall a checkpoint for ever.
    pub fn operation_timeout(mut self, d: Duration) -> Self {
        self.sink.operation_timeout = d;
        self
    }

    /// Validate; the error names the bad option and value.
    pub fn build(self) -> Result<RabbitMqSink<T>> {
        validate(&self.sink.url)?;
        check_operation_timeout(self.sink.operation_timeout)?;
        if self.sink.max_in_flight == 0 {
            return Err(StreamError::invalid("max_in_flight", 0, "at least 1"));
        }
        Ok(self.sink)
    }
}

//! The public source and sink types, their builders and the validation of every
//! option.

use std::sync::Arc;
use std::time::Duration;

use connector_base::DeliveryGuarantee;
use connector_base::schema::{BadRecordPolicy, SchemaError, SerializationSchema};
use stream_core::{Result, StreamError};

use crate::connection::PubSubEndpoint;
use crate::message::{OutgoingMessage, PubSubDeserializer};

/// `projects/<project>/<kind>/<name>`, or `name` when already a full name.
fn full_name(project: &str, kind: &str, name: &str) -> String {
    if name.starts_with("projects/") { name.to_string() } else { format!("projects/{project}/{kind}/{name}") }
}

/// Check a project and resource name; the error names the bad one.
fn check_names(project: &str, option: &'static str, name: &str) -> Result<()> {
    if !name.starts_with("projects/") && project.trim().is_empty() {
        return Err(StreamError::invalid("project", "\"\"", "name the Google Cloud project"));
    }
    let short = name.rsplit('/').next().unwrap_or(name);
    if short.len() < 3 || short.len() > 255 || !short.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return Err(StreamError::invalid(
            option,
            name,
            "3 to 255 characters, starting with a letter (letters, digits, - _ . ~ + %)",
        ));
    }
    Ok(())
}

/// Reads one Pub/Sub subscription; several readers share it, as Pub/Sub's own
/// clients do. Messages are acknowledged when the checkpoint that covers them
/// completes (at-least-once), so the subscription's outstanding limit bounds how many
/// are in flight between two checkpoints. Build with [`PubSubSource::builder`].
pub struct PubSubSource<T> {
    pub(crate) endpoint: PubSubEndpoint,
    pub(crate) subscription: String,
    pub(crate) deserializer: Arc<dyn PubSubDeserializer<T>>,
    pub(crate) guarantee: DeliveryGuarantee,
    pub(crate) max_outstanding_messages: i64,
    pub(crate) max_outstanding_bytes: i64,
    pub(crate) bad_records: BadRecordPolicy,
    pub(crate) end_of_stream: Option<EndOfStream<T>>,
}

/// Whether a record marks the end of a bounded read.
pub(crate) type EndOfStream<T> = Arc<dyn Fn(&T) -> bool + Send + Sync>;

impl<T> Clone for PubSubSource<T> {
    fn clone(&self) -> Self {
        PubSubSource {
            endpoint: self.endpoint.clone(),
            subscription: self.subscription.clone(),
            deserializer: self.deserializer.clone(),
            guarantee: self.guarantee,
            max_outstanding_messages: self.max_outstanding_messages,
            max_outstanding_bytes: self.max_outstanding_bytes,
            bad_records: self.bad_records.clone(),
            end_of_stream: self.end_of_stream.clone(),
        }
    }
}

impl<T> std::fmt::Debug for PubSubSource<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PubSubSource")
            .field("subscription", &self.subscription)
            .field("endpoint", &self.endpoint.describe())
            .field("guarantee", &self.guarantee)
            .field("max_outstanding_messages", &self.max_outstanding_messages)
            .field("bounded", &self.end_of_stream.is_some())
            .finish_non_exhaustive()
    }
}

impl<T: Send + 'static> PubSubSource<T> {
    /// Read `subscription` (a name, or `projects/<p>/subscriptions/<s>`) of `project`,
    /// each message made a record by `deserializer` (`DataOnly(Utf8Schema)`, or a
    /// closure over [`crate::ReceivedMessage`]). At-least-once; the emulator of
    /// `PUBSUB_EMULATOR_HOST` when set.
    pub fn builder(
        project: impl Into<String>,
        subscription: impl Into<String>,
        deserializer: impl PubSubDeserializer<T>,
    ) -> PubSubSourceBuilder<T> {
        PubSubSourceBuilder {
            project: project.into(),
            subscription: subscription.into(),
            endpoint: PubSubEndpoint::from_env(),
            deserializer: Arc::new(deserializer),
            guarantee: DeliveryGuarantee::AtLeastOnce,
            max_outstanding_messages: 1000,
            max_outstanding_bytes: 100 * 1024 * 1024,
            bad_records: BadRecordPolicy::Fail,
            end_of_stream: None,
        }
    }
}

/// Builder of [`PubSubSource`].
pub struct PubSubSourceBuilder<T> {
    project: String,
    subscription: String,
    endpoint: PubSubEndpoint,
    deserializer: Arc<dyn PubSubDeserializer<T>>,
    guarantee: DeliveryGuarantee,
    max_outstanding_messages: i64,
    max_outstanding_bytes: i64,
    bad_records: BadRecordPolicy,
    end_of_stream: Option<EndOfStream<T>>,
}

impl<T: Send + 'static> PubSubSourceBuilder<T> {
    /// Where the clients connect (default: `PUBSUB_EMULATOR_HOST`, else the service).
    pub fn endpoint(mut self, endpoint: PubSubEndpoint) -> Self {
        self.endpoint = endpoint;
        self
    }

    /// `AtLeastOnce` (default; Flink's guarantee) or `ExactlyOnce`
    /// (see the README: it needs a subscription with exactly-once delivery).
    pub fn delivery_guarantee(mut self, guarantee: DeliveryGuarantee) -> Self {
        self.guarantee = guarantee;
        self
    }

    /// Messages received and not yet acknowledged, per reader (default 1000). Acks
    /// wait for the checkpoint, so this caps a reader's throughput at about this many
    /// messages per checkpoint interval.
    pub fn max_outstanding_messages(mut self, n: i64) -> Self {
        self.max_outstanding_messages = n;
        self
    }

    /// Bytes received and not yet acknowledged, per reader (default 100 MiB).
    pub fn max_outstanding_bytes(mut self, n: i64) -> Self {
        self.max_outstanding_bytes = n;
        self
    }

    /// What to do with a message the deserializer refuses (default: fail).
    pub fn bad_records(mut self, policy: BadRecordPolicy) -> Self {
        self.bad_records = policy;
        self
    }

    /// Make the read bounded (Flink's `isEndOfStream`): a reader stops at the first
    /// record for which `is_end` holds. That record is not emitted; it is
    /// acknowledged with what came before it at the final checkpoint, and what the
    /// reader received after it is nacked, so it goes back to the subscription. Each
    /// reader needs its own end record: with parallelism above 1, publish one per
    /// reader, or read with parallelism 1.
    pub fn end_of_stream(mut self, is_end: impl Fn(&T) -> bool + Send + Sync + 'static) -> Self {
        self.end_of_stream = Some(Arc::new(is_end));
        self
    }

    /// Validate and build; the error names the bad option.
    pub fn build(self) -> Result<PubSubSource<T>> {
        check_names(&self.project, "subscription", &self.subscription)?;
        if !matches!(self.guarantee, DeliveryGuarantee::AtLeastOnce | DeliveryGuarantee::ExactlyOnce) {
            return Err(StreamError::invalid(
                "delivery_guarantee",
                self.guarantee,
                "the Pub/Sub source offers at-least-once, or exactly-once on an exactly-once subscription",
            ));
        }
        if self.max_outstanding_messages < 1 {
            return Err(StreamError::invalid("max_outstanding_messages", self.max_outstanding_messages, "at least 1"));
        }
        if self.max_outstanding_bytes < 1024 {
            return Err(StreamError::invalid("max_outstanding_bytes", self.max_outstanding_bytes, "at least 1024"));
        }
        Ok(PubSubSource {
            endpoint: self.endpoint,
            subscription: full_name(&self.project, "subscriptions", &self.subscription),
            deserializer: self.deserializer,
            guarantee: self.guarantee,
            max_outstanding_messages: self.max_outstanding_messages,
            max_outstanding_bytes: self.max_outstanding_bytes,
            bad_records: self.bad_records,
            end_of_stream: self.end_of_stream,
        })
    }
}

/// The publisher's batching: a batch goes out at this many messages, bytes, or
/// after this delay, whichever comes first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batching {
    pub(crate) messages: u32,
    pub(crate) bytes: u32,
    pub(crate) delay: Duration,
}

pub(crate) type ToMessage<T> = Arc<dyn Fn(&T) -> std::result::Result<OutgoingMessage, SchemaError> + Send + Sync>;

/// Publishes records to one Pub/Sub topic, at-least-once: the checkpoint waits for
/// every publish to be confirmed. Build with [`PubSubSink::builder`].
pub struct PubSubSink<T> {
    pub(crate) endpoint: PubSubEndpoint,
    pub(crate) topic: String,
    pub(crate) to_message: ToMessage<T>,
    pub(crate) batching: Batching,
    pub(crate) publish_timeout: Duration,
}

impl<T> std::fmt::Debug for PubSubSink<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PubSubSink")
            .field("topic", &self.topic)
            .field("endpoint", &self.endpoint.describe())
            .field("batching", &self.batching)
            .finish_non_exhaustive()
    }
}

impl<T: Send + 'static> PubSubSink<T> {
    /// Publish to `topic` (a name, or `projects/<p>/topics/<t>`) of `project`, each
    /// record's payload made by `schema`. Use [`PubSubSinkBuilder::messages`] for
    /// attributes and ordering keys.
    pub fn builder(
        project: impl Into<String>,
        topic: impl Into<String>,
        schema: impl SerializationSchema<T>,
    ) -> PubSubSinkBuilder<T> {
        let to_message: ToMessage<T> = Arc::new(move |record: &T| schema.serialize(record).map(OutgoingMessage::new));
        PubSubSinkBuilder {
            project: project.into(),
            topic: topic.into(),
            endpoint: PubSubEndpoint::from_env(),
            to_message,
            batching: Batching { messages: 100, bytes: 1024 * 1024, delay: Duration::from_millis(10) },
            publish_timeout: Duration::from_secs(60),
        }
    }
}

/// Builder of [`PubSubSink`].
pub struct PubSubSinkBuilder<T> {
    project: String,
    topic: String,
    endpoint: PubSubEndpoint,
    to_message: ToMessage<T>,
    batching: Batching,
    publish_timeout: Duration,
}

impl<T: Send + 'static> PubSubSinkBuilder<T> {
    /// Where the clients connect (default: `PUBSUB_EMULATOR_HOST`, else the service).
    pub fn endpoint(mut self, endpoint: PubSubEndpoint) -> Self {
        self.endpoint = endpoint;
        self
    }

    /// Make each record a whole message (payload, attributes, ordering key) instead
    /// of a payload: Flink's sink sends the body only.
    pub fn messages(
        mut self,
        to_message: impl Fn(&T) -> std::result::Result<OutgoingMessage, SchemaError> + Send + Sync + 'static,
    ) -> Self {
        self.to_message = Arc::new(to_message);
        self
    }

    /// A batch goes out at `messages` (default 100, at most 1000), `bytes` (default
    /// 1 MiB, at most 10 MB) or after `delay` (default 10 ms).
    pub fn batching(mut self, messages: u32, bytes: u32, delay: Duration) -> Self {
        self.batching = Batching { messages, bytes, delay };
        self
    }

    /// How long a message may keep failing to publish (retryable errors, retried with
    /// backoff) before the job fails (default 60 s).
    pub fn publish_timeout(mut self, timeout: Duration) -> Self {
        self.publish_timeout = timeout;
        self
    }

    /// Validate and build; the error names the bad option.
    pub fn build(self) -> Result<PubSubSink<T>> {
        check_names(&self.project, "topic", &self.topic)?;
        let b = &self.batching;
        if !(1..=1000).contains(&b.messages) {
            return Err(StreamError::invalid("batching.messages", b.messages, "1 to 1000"));
        }
        if !(1..=10_000_000).contains(&b.bytes) {
            return Err(StreamError::invalid("batching.bytes", b.bytes, "1 to 10 000 000 (Pub/Sub's request limit)"));
        }
        if self.publish_timeout.is_zero() {
            return Err(StreamError::invalid("publish_timeout", "0s", "must be greater than zero"));
        }
        Ok(PubSubSink {
            endpoint: self.endpoint,
            topic: full_name(&self.project, "topics", &self.topic),
            to_message: self.to_message,
            batching: self.batching,
            publish_timeout: self.publish_timeout,
        })
    }
}

//! Messages the sink publishes, and how records become messages.

use connector_base::schema::{SchemaError, SerializationSchema};

/// One message to publish.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OutgoingMessage {
    /// Exchange (`""` = the default exchange, which routes by queue name).
    pub exchange: String,
    /// Routing key (the queue's name on the default exchange).
    pub routing_key: String,
    /// Body.
    pub body: Vec<u8>,
    /// `correlation_id` property (what an exactly-once source de-duplicates by).
    pub correlation_id: Option<String>,
    /// Delivery mode 2 (persistent) instead of 1.
    pub persistent: bool,
    /// String headers.
    pub headers: Vec<(String, String)>,
}

/// Turns a record into a message; an `Err` fails the write (naming the reason).
pub trait MessageSerializer<T>: Send + Sync + 'static {
    /// Encode `record`.
    fn serialize(&self, record: &T) -> Result<OutgoingMessage, SchemaError>;
}

impl<T, F> MessageSerializer<T> for F
where
    F: Fn(&T) -> Result<OutgoingMessage, SchemaError> + Send + Sync + 'static,
{
    fn serialize(&self, record: &T) -> Result<OutgoingMessage, SchemaError> {
        self(record)
    }
}

/// Bodies through one of the base crate's schemas, published persistent to a queue
/// through the default exchange, without correlation id.
pub struct ToQueue<S> {
    queue: String,
    schema: S,
}

impl<S> ToQueue<S> {
    /// Publish to `queue` with `schema`.
    pub fn new(queue: impl Into<String>, schema: S) -> Self {
        ToQueue { queue: queue.into(), schema }
    }
}

impl<T, S: SerializationSchema<T>> MessageSerializer<T> for ToQueue<S> {
    fn serialize(&self, record: &T) -> Result<OutgoingMessage, SchemaError> {
        Ok(OutgoingMessage {
            routing_key: self.queue.clone(),
            body: self.schema.serialize(record)?,
            persistent: true,
            ..OutgoingMessage::default()
        })
    }
}

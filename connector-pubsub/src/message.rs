//! Messages as the user sees them: a received one (data, attributes, ordering key,
//! id, publish time) for the source's deserializer, and an outgoing one for the sink.

use std::collections::HashMap;

use connector_base::schema::{DeserializationSchema, SchemaError};

/// A message the source received.
#[derive(Debug, Clone, Copy)]
pub struct ReceivedMessage<'a> {
    /// The payload.
    pub data: &'a [u8],
    /// The attributes.
    pub attributes: &'a HashMap<String, String>,
    /// The ordering key ("" for none).
    pub ordering_key: &'a str,
    /// The service's id of the message.
    pub message_id: &'a str,
    /// When it was published, in milliseconds since the epoch (0 if unknown).
    pub publish_time_ms: i64,
}

/// Makes a record of a received message: any `Fn(&ReceivedMessage) -> Result<T, SchemaError>`,
/// or [`DataOnly`] for a schema of the payload.
pub trait PubSubDeserializer<T>: Send + Sync + 'static {
    /// Decode `message`; an error goes to the bad-record policy.
    fn deserialize(&self, message: &ReceivedMessage<'_>) -> Result<T, SchemaError>;
}

impl<T, F> PubSubDeserializer<T> for F
where
    F: Fn(&ReceivedMessage<'_>) -> Result<T, SchemaError> + Send + Sync + 'static,
{
    fn deserialize(&self, message: &ReceivedMessage<'_>) -> Result<T, SchemaError> {
        self(message)
    }
}

/// The payload only, through a connector-base schema (`DataOnly(Utf8Schema)`).
pub struct DataOnly<S>(pub S);

impl<T, S: DeserializationSchema<T>> PubSubDeserializer<T> for DataOnly<S> {
    fn deserialize(&self, message: &ReceivedMessage<'_>) -> Result<T, SchemaError> {
        self.0.deserialize(message.data)
    }
}

/// A message for the sink to publish.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutgoingMessage {
    /// The payload.
    pub data: Vec<u8>,
    /// The attributes.
    pub attributes: HashMap<String, String>,
    /// The ordering key ("" for none; the topic's subscriptions need message
    /// ordering enabled for it to matter).
    pub ordering_key: String,
}

impl OutgoingMessage {
    /// A message with `data` and nothing else.
    pub fn new(data: impl Into<Vec<u8>>) -> Self {
        OutgoingMessage { data: data.into(), ..OutgoingMessage::default() }
    }

    /// With attribute `key` = `value`.
    pub fn attribute(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.attributes.insert(key.into(), value.into());
        self
    }

    /// With an ordering key.
    pub fn ordering_key(mut self, key: impl Into<String>) -> Self {
        self.ordering_key = key.into();
        self
    }

    /// Its size as Pub/Sub counts it against the 10 MB limit: payload, attributes
    /// and ordering key.
    pub fn size(&self) -> usize {
        let attributes: usize = self.attributes.iter().map(|(k, v)| k.len() + v.len()).sum();
        self.data.len() + attributes + self.ordering_key.len()
    }

    pub(crate) fn into_message(self) -> google_cloud_pubsub::model::Message {
        google_cloud_pubsub::model::Message::new()
            .set_data(bytes::Bytes::from(self.data))
            .set_attributes(self.attributes)
            .set_ordering_key(self.ordering_key)
    }
}

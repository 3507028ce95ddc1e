//! A consumed record as deserializers see it, and the deserializer trait.

use connector_base::schema::{DeserializationSchema, SchemaError};

/// One Kafka record, borrowed from the consumer.
#[derive(Debug, Clone, Copy)]
pub struct KafkaRecord<'a> {
    /// Topic.
    pub topic: &'a str,
    /// Partition.
    pub partition: i32,
    /// Offset.
    pub offset: i64,
    /// Timestamp in ms since the Unix epoch, when the record has one.
    pub timestamp_ms: Option<i64>,
    /// Key, if any.
    pub key: Option<&'a [u8]>,
    /// Value (payload), if any.
    pub value: Option<&'a [u8]>,
    /// Headers in order (name, value).
    pub headers: &'a [(&'a str, Option<&'a [u8]>)],
}

/// Turns a Kafka record (key, value, headers, timestamp) into `T`; an `Err` is a bad
/// record handled by the source's bad-record policy.
pub trait KafkaDeserializer<T>: Send + Sync + 'static {
    /// Decode `record`.
    fn deserialize(&self, record: &KafkaRecord<'_>) -> Result<T, SchemaError>;
}

impl<T, F> KafkaDeserializer<T> for F
where
    F: Fn(&KafkaRecord<'_>) -> Result<T, SchemaError> + Send + Sync + 'static,
{
    fn deserialize(&self, record: &KafkaRecord<'_>) -> Result<T, SchemaError> {
        self(record)
    }
}

/// The value only, through one of the base crate's schemas (`Utf8Schema`,
/// `JsonSchema<T>`, `BytesSchema`, ...). A record without a value is a bad record.
pub struct ValueOnly<S>(pub S);

impl<T, S: DeserializationSchema<T>> KafkaDeserializer<T> for ValueOnly<S> {
    fn deserialize(&self, record: &KafkaRecord<'_>) -> Result<T, SchemaError> {
        match record.value {
            Some(value) => self.0.deserialize(value),
            None => Err("record has no value (a tombstone)".into()),
        }
    }
}

/// A record to produce.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct ProducerRecord {
    /// Topic.
    pub topic: String,
    /// Partition; `None` lets the partitioner choose (by key).
    pub partition: Option<i32>,
    /// Key.
    #[serde(with = "connector_base::state_bytes::optional", default)]
    pub key: Option<Vec<u8>>,
    /// Value.
    #[serde(with = "connector_base::state_bytes::optional", default)]
    pub value: Option<Vec<u8>>,
    /// Headers in order.
    pub headers: Vec<(String, Vec<u8>)>,
    /// Timestamp in ms since the Unix epoch; `None` for the producer's clock.
    pub timestamp_ms: Option<i64>,
}

/// Turns `T` into a record to produce; an `Err` fails the write (naming the reason).
pub trait KafkaSerializer<T>: Send + Sync + 'static {
    /// Encode `record`.
    fn serialize(&self, record: &T) -> Result<ProducerRecord, SchemaError>;
}

impl<T, F> KafkaSerializer<T> for F
where
    F: Fn(&T) -> Result<ProducerRecord, SchemaError> + Send + Sync + 'static,
{
    fn serialize(&self, record: &T) -> Result<ProducerRecord, SchemaError> {
        self(record)
    }
}

/// The value only, through one of the base crate's schemas, to one topic (no key:
/// the partitioner spreads records).
pub struct ValueTo<S> {
    topic: String,
    schema: S,
}

impl<S> ValueTo<S> {
    /// Write values encoded by `schema` to `topic`.
    pub fn new(topic: impl Into<String>, schema: S) -> Self {
        ValueTo { topic: topic.into(), schema }
    }
}

impl<T, S: connector_base::schema::SerializationSchema<T>> KafkaSerializer<T> for ValueTo<S> {
    fn serialize(&self, record: &T) -> Result<ProducerRecord, SchemaError> {
        Ok(ProducerRecord {
            topic: self.topic.clone(),
            value: Some(self.schema.serialize(record)?),
            ..Default::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::ProducerRecord;

    #[test]
    fn text_and_binary_survive_a_round_trip_and_text_stays_a_string() {
        let record = ProducerRecord {
            topic: "t".into(),
            key: Some(vec![0xff, 0x00, 0x41]),
            value: Some(b"hello \"world\"".to_vec()),
            ..Default::default()
        };
        let json = serde_json::to_string(&record).unwrap();
        assert!(json.contains(r#""value":"hello \"world\"""#), "{json}");
        assert!(json.contains(r#""key":{"base64":"/wBB"}"#), "{json}");
        let back: ProducerRecord = serde_json::from_str(&json).unwrap();
        assert_eq!(back, record);
        let none = ProducerRecord { topic: "t".into(), ..Default::default() };
        assert_eq!(serde_json::from_str::<ProducerRecord>(&serde_json::to_string(&none).unwrap()).unwrap(), none);
    }
}

//! A consumed record as deserializers see it, and the deserializer trait.

use connector_base::schema::DeserializationSchema;

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
    fn deserialize(&self, record: &KafkaRecord<'_>) -> Result<T, String>;
}

impl<T, F> KafkaDeserializer<T> for F
where
    F: Fn(&KafkaRecord<'_>) -> Result<T, String> + Send + Sync + 'static,
{
    fn deserialize(&self, record: &KafkaRecord<'_>) -> Result<T, String> {
        self(record)
    }
}

/// The value only, through one of the base crate's schemas (`Utf8Schema`,
/// `JsonSchema<T>`, `BytesSchema`, ...). A record without a value is a bad record.
pub struct ValueOnly<S>(pub S);

impl<T, S: DeserializationSchema<T>> KafkaDeserializer<T> for ValueOnly<S> {
    fn deserialize(&self, record: &KafkaRecord<'_>) -> Result<T, String> {
        match record.value {
            Some(value) => self.0.deserialize(value),
            None => Err("record has no value (a tombstone)".into()),
        }
    }
}

//! Serialization schemas (bytes, UTF-8, JSON through serde) and what to do with a
//! record that does not decode: fail, skip and count, or hand it to a side output.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;
use serde::de::DeserializeOwned;
use stream_core::Result;

use crate::error::BaseError;

/// Why a record could not be decoded or encoded: a message, and the codec's own
/// error as the source when there is one (downcast it, to `serde_json::Error` say).
/// A `String` or `&str` converts into one, so a closure can return
/// `Err(format!(..).into())`.
#[derive(Debug, thiserror::Error)]
#[error("{message}{}", source.as_ref().map(|s| format!(": {s}")).unwrap_or_default())]
pub struct SchemaError {
    message: String,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl SchemaError {
    /// An error with only a message.
    pub fn new(message: impl Into<String>) -> Self {
        SchemaError { message: message.into(), source: None }
    }

    /// An error that keeps the codec's error as its source.
    pub fn caused_by(message: impl Into<String>, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        SchemaError { message: message.into(), source: Some(Box::new(source)) }
    }
}

impl From<String> for SchemaError {
    fn from(message: String) -> Self {
        SchemaError::new(message)
    }
}

impl From<&str> for SchemaError {
    fn from(message: &str) -> Self {
        SchemaError::new(message)
    }
}

/// Turns bytes from a system into records.
pub trait DeserializationSchema<T>: Send + Sync + 'static {
    /// Decode one record; the error says why it is not one.
    fn deserialize(&self, bytes: &[u8]) -> std::result::Result<T, SchemaError>;
}

/// Turns records into bytes for a system.
pub trait SerializationSchema<T>: Send + Sync + 'static {
    /// Encode one record.
    fn serialize(&self, record: &T) -> std::result::Result<Vec<u8>, SchemaError>;
}

/// Bytes as they are.
#[derive(Debug, Clone, Copy, Default)]
pub struct BytesSchema;

impl DeserializationSchema<Vec<u8>> for BytesSchema {
    fn deserialize(&self, bytes: &[u8]) -> std::result::Result<Vec<u8>, SchemaError> {
        Ok(bytes.to_vec())
    }
}

impl SerializationSchema<Vec<u8>> for BytesSchema {
    fn serialize(&self, record: &Vec<u8>) -> std::result::Result<Vec<u8>, SchemaError> {
        Ok(record.clone())
    }
}

/// UTF-8 text; invalid UTF-8 is a bad record.
#[derive(Debug, Clone, Copy, Default)]
pub struct Utf8Schema;

impl DeserializationSchema<String> for Utf8Schema {
    fn deserialize(&self, bytes: &[u8]) -> std::result::Result<String, SchemaError> {
        String::from_utf8(bytes.to_vec()).map_err(|e| SchemaError::caused_by("invalid UTF-8", e))
    }
}

impl SerializationSchema<String> for Utf8Schema {
    fn serialize(&self, record: &String) -> std::result::Result<Vec<u8>, SchemaError> {
        Ok(record.as_bytes().to_vec())
    }
}

/// JSON through serde.
pub struct JsonSchema<T>(PhantomData<fn() -> T>);

impl<T> JsonSchema<T> {
    /// A JSON schema for `T`.
    pub fn new() -> Self {
        JsonSchema(PhantomData)
    }
}

impl<T> Default for JsonSchema<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> fmt::Debug for JsonSchema<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JsonSchema")
    }
}

impl<T: DeserializeOwned + 'static> DeserializationSchema<T> for JsonSchema<T> {
    fn deserialize(&self, bytes: &[u8]) -> std::result::Result<T, SchemaError> {
        serde_json::from_slice(bytes).map_err(|e| SchemaError::caused_by("invalid JSON", e))
    }
}

impl<T: Serialize + 'static> SerializationSchema<T> for JsonSchema<T> {
    fn serialize(&self, record: &T) -> std::result::Result<Vec<u8>, SchemaError> {
        serde_json::to_vec(record).map_err(|e| SchemaError::caused_by("cannot encode as JSON", e))
    }
}

/// A record that could not be decoded, as handed to a side output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRecord {
    /// The raw bytes.
    pub bytes: Vec<u8>,
    /// Why they are not a record.
    pub error: String,
    /// Where they came from (topic/partition/offset, file:line, ...).
    pub origin: String,
}

/// What to do with a bad record.
#[derive(Clone)]
pub enum BadRecordPolicy {
    /// Fail the task (the job restarts, and fails again on the same record): the default.
    Fail,
    /// Drop it, log it, and count it in `bad_records_skipped_total`.
    SkipAndCount,
    /// Give it to this function (a dead-letter queue, a file) and go on.
    SideOutput(Arc<dyn Fn(BadRecord) + Send + Sync>),
}

impl fmt::Debug for BadRecordPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BadRecordPolicy::Fail => "Fail",
            BadRecordPolicy::SkipAndCount => "SkipAndCount",
            BadRecordPolicy::SideOutput(_) => "SideOutput",
        })
    }
}

/// Applies a [`BadRecordPolicy`] to decoding results and counts what it lets go;
/// cloning shares the count. For decoders that are not a [`DeserializationSchema`]
/// (a Kafka record with key, headers and timestamp, say).
#[derive(Clone)]
pub struct BadRecords {
    policy: BadRecordPolicy,
    skipped: Arc<AtomicU64>,
}

impl BadRecords {
    /// Treat bad records by `policy`.
    pub fn new(policy: BadRecordPolicy) -> Self {
        BadRecords { policy, skipped: Arc::new(AtomicU64::new(0)) }
    }

    /// Bad records skipped or sent to the side output so far.
    pub fn count(&self) -> u64 {
        self.skipped.load(Ordering::Relaxed)
    }

    /// `Ok(Some(record))`, `Ok(None)` for a bad record that the policy lets go, or an
    /// error naming the origin and the reason under [`BadRecordPolicy::Fail`]; `bytes`
    /// are what a side output receives.
    pub fn settle<T>(
        &self,
        decoded: std::result::Result<T, impl Into<SchemaError>>,
        bytes: &[u8],
        origin: impl fmt::Display,
    ) -> Result<Option<T>> {
        let error: SchemaError = match decoded {
            Ok(record) => return Ok(Some(record)),
            Err(error) => error.into(),
        };
        let origin = origin.to_string();
        match &self.policy {
            BadRecordPolicy::Fail => Err(BaseError::BadRecord { origin, source: error }.into()),
            BadRecordPolicy::SkipAndCount => {
                self.skipped.fetch_add(1, Ordering::Relaxed);
                metrics::counter!("bad_records_skipped_total").increment(1);
                tracing::warn!(%origin, %error, "bad record skipped");
                Ok(None)
            }
            BadRecordPolicy::SideOutput(side) => {
                self.skipped.fetch_add(1, Ordering::Relaxed);
                metrics::counter!("bad_records_side_output_total").increment(1);
                side(BadRecord { bytes: bytes.to_vec(), error: error.to_string(), origin });
                Ok(None)
            }
        }
    }
}

/// A deserialization schema with its bad-record policy; cloning shares the count.
pub struct Decoder<T: 'static> {
    schema: Arc<dyn DeserializationSchema<T>>,
    bad: BadRecords,
}

// Not derived: a derive would ask `T: Clone`, and the records are never cloned.
impl<T: 'static> Clone for Decoder<T> {
    fn clone(&self) -> Self {
        Decoder { schema: self.schema.clone(), bad: self.bad.clone() }
    }
}

impl<T: 'static> Decoder<T> {
    /// Decode with `schema`, treating bad records by `policy`.
    pub fn new(schema: impl DeserializationSchema<T>, policy: BadRecordPolicy) -> Self {
        Decoder { schema: Arc::new(schema), bad: BadRecords::new(policy) }
    }

    /// Bad records skipped or sent to the side output so far.
    pub fn bad_records(&self) -> u64 {
        self.bad.count()
    }

    /// `Ok(Some(record))`, `Ok(None)` for a bad record that the policy lets go, or an
    /// error naming the origin and the reason under [`BadRecordPolicy::Fail`].
    pub fn decode(&self, bytes: &[u8], origin: impl fmt::Display) -> Result<Option<T>> {
        self.bad.settle(self.schema.deserialize(bytes), bytes, origin)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Order {
        id: u32,
    }

    #[test]
    fn schemas_round_trip() {
        assert_eq!(BytesSchema.deserialize(b"\x00\x01").unwrap(), vec![0, 1]);
        assert_eq!(Utf8Schema.deserialize("é".as_bytes()).unwrap(), "é");
        let json = JsonSchema::<Order>::new();
        let bytes = json.serialize(&Order { id: 7 }).unwrap();
        assert_eq!(json.deserialize(&bytes).unwrap(), Order { id: 7 });
    }

    #[test]
    fn fail_policy_names_origin_and_reason() {
        let d = Decoder::new(JsonSchema::<Order>::new(), BadRecordPolicy::Fail);
        let err = d.decode(b"{oops", "orders/0@42").unwrap_err().to_string();
        assert!(err.contains("orders/0@42") && err.contains("invalid JSON"), "{err}");
    }

    #[test]
    fn skip_policy_counts_and_side_output_receives() {
        let d = Decoder::new(Utf8Schema, BadRecordPolicy::SkipAndCount);
        assert_eq!(d.decode(b"ok", "x").unwrap(), Some("ok".to_string()));
        assert_eq!(d.decode(&[0xff, 0xfe], "x").unwrap(), None);
        assert_eq!(d.bad_records(), 1);

        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        let d = Decoder::new(
            JsonSchema::<Order>::new(),
            BadRecordPolicy::SideOutput(Arc::new(move |bad| sink.lock().unwrap().push(bad))),
        );
        assert_eq!(d.decode(br#"{"id":1}"#, "f:1").unwrap(), Some(Order { id: 1 }));
        assert_eq!(d.decode(b"nope", "f:2").unwrap(), None);
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].bytes, b"nope");
        assert_eq!(seen[0].origin, "f:2");
    }
}

//! Record bytes in checkpoint state (buffered requests, records of open
//! transactions). Use with `#[serde(with = "connector_base::state_bytes")]` on a
//! `Vec<u8>`, or `connector_base::state_bytes::optional` on an `Option<Vec<u8>>`.
//!
//! Checkpoint state is MessagePack since checkpoint format 2: the bytes are stored as
//! they are. In a human-readable format (JSON: every state of a format-1 checkpoint,
//! still read on restore) UTF-8 bytes are one string and other bytes
//! `{"base64": "..."}`; both are read back, and so is an array of numbers.
//!
//! ```
//! #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
//! struct Entry {
//!     #[serde(with = "connector_base::state_bytes")]
//!     data: Vec<u8>,
//! }
//!
//! let text = Entry { data: b"hello".to_vec() };
//! assert_eq!(serde_json::to_string(&text).unwrap(), r#"{"data":"hello"}"#);
//! let binary = Entry { data: vec![0xff, 0x00] };
//! assert_eq!(serde_json::to_string(&binary).unwrap(), r#"{"data":{"base64":"/wA="}}"#);
//! let back: Entry = serde_json::from_str(r#"{"data":{"base64":"/wA="}}"#).unwrap();
//! assert_eq!(back, binary);
//! ```

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserializer, Serializer};

/// The key of base64 text in the human-readable form.
const BASE64: &str = "base64";

/// Write `bytes` (see the module docs).
pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
    if !s.is_human_readable() {
        return s.serialize_bytes(bytes);
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => s.serialize_str(text),
        Err(_) => {
            let mut map = s.serialize_map(Some(1))?;
            map.serialize_entry(BASE64, &STANDARD.encode(bytes))?;
            map.end()
        }
    }
}

/// Read bytes written by [`serialize`] (or an array of numbers).
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
    if d.is_human_readable() { d.deserialize_any(BytesVisitor) } else { d.deserialize_byte_buf(BytesVisitor) }
}

/// The same for `Option<Vec<u8>>` (`None` is null).
pub mod optional {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    /// The bytes in state form.
    struct InState<'a>(&'a [u8]);

    impl Serialize for InState<'_> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            super::serialize(self.0, s)
        }
    }

    /// Bytes read from state form.
    struct FromState(Vec<u8>);

    impl<'de> Deserialize<'de> for FromState {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            super::deserialize(d).map(FromState)
        }
    }

    /// Write `bytes`: `None` as null, others as [`super::serialize`] does.
    pub fn serialize<S: Serializer>(bytes: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        bytes.as_deref().map(InState).serialize(s)
    }

    /// Read what [`serialize`] wrote.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
        Ok(Option::<FromState>::deserialize(d)?.map(|b| b.0))
    }
}

struct BytesVisitor;

impl<'de> Visitor<'de> for BytesVisitor {
    type Value = Vec<u8>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a string, {\"base64\": \"...\"} or an array of bytes")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Vec<u8>, E> {
        Ok(v.as_bytes().to_vec())
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
        Ok(v.to_vec())
    }

    fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<Vec<u8>, E> {
        Ok(v)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<u8>, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(b) = seq.next_element::<u8>()? {
            out.push(b);
        }
        Ok(out)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Vec<u8>, A::Error> {
        match map.next_entry::<String, String>()? {
            Some((key, text)) if key == BASE64 => STANDARD.decode(text).map_err(de::Error::custom),
            Some((key, _)) => Err(de::Error::unknown_field(&key, &[BASE64])),
            None => Err(de::Error::missing_field(BASE64)),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};

    #[derive(Serialize, Deserialize, PartialEq, Debug)]
    struct Record {
        #[serde(with = "super::optional", default)]
        key: Option<Vec<u8>>,
        #[serde(with = "super")]
        value: Vec<u8>,
    }

    #[test]
    fn text_stays_a_string_and_binary_survives_a_round_trip() {
        let record = Record { key: Some(vec![0xff, 0x00, 0x41]), value: b"hello \"world\"".to_vec() };
        let json = serde_json::to_string(&record).unwrap();
        assert_eq!(json, r#"{"key":{"base64":"/wBB"},"value":"hello \"world\""}"#);
        assert_eq!(serde_json::from_str::<Record>(&json).unwrap(), record);
        let none = Record { key: None, value: Vec::new() };
        assert_eq!(serde_json::from_str::<Record>(&serde_json::to_string(&none).unwrap()).unwrap(), none);
        // Through serde_json::Value, as checkpoint state goes.
        let value = serde_json::to_value(&record).unwrap();
        assert_eq!(serde_json::from_value::<Record>(value).unwrap(), record);
    }

    #[test]
    fn arrays_of_numbers_are_read_and_a_missing_key_is_none() {
        let old = r#"{"key":[255,0,65],"value":[104,105]}"#;
        let record: Record = serde_json::from_str(old).unwrap();
        assert_eq!(record, Record { key: Some(vec![255, 0, 65]), value: b"hi".to_vec() });
        let record: Record = serde_json::from_str(r#"{"value":"x"}"#).unwrap();
        assert_eq!(record.key, None);
    }

    #[test]
    fn bad_base64_is_an_error_not_garbage() {
        let err = serde_json::from_str::<Record>(r#"{"value":{"base64":"%%%"}}"#).unwrap_err().to_string();
        assert!(err.contains("Invalid"), "{err}");
        assert!(serde_json::from_str::<Record>(r#"{"value":{"hex":"00"}}"#).is_err());
    }
}

//! Compact serde for record bytes in checkpoint state: UTF-8 as a string (the common
//! case: one JSON string instead of an array of numbers, about a quarter of the size and
//! of the time), anything else as an array of numbers.

use serde::de::{self, SeqAccess, Visitor};
use serde::{Deserializer, Serializer};

/// `#[serde(with = "crate::bytes_serde::optional")]` for `Option<Vec<u8>>`.
pub(crate) mod optional {
    use super::*;

    pub fn serialize<S: Serializer>(bytes: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        match bytes {
            None => s.serialize_none(),
            Some(b) => s.serialize_some(&Compact(b)),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
        struct OptionVisitor;
        impl<'de> Visitor<'de> for OptionVisitor {
            type Value = Option<Vec<u8>>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("null, a string or an array of bytes")
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
                d.deserialize_any(BytesVisitor).map(Some)
            }
        }
        d.deserialize_option(OptionVisitor)
    }
}

struct Compact<'a>(&'a [u8]);

impl serde::Serialize for Compact<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match std::str::from_utf8(self.0) {
            Ok(text) => s.serialize_str(text),
            Err(_) => s.collect_seq(self.0.iter()),
        }
    }
}

struct BytesVisitor;

impl<'de> Visitor<'de> for BytesVisitor {
    type Value = Vec<u8>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a string or an array of bytes")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Vec<u8>, E> {
        Ok(v.as_bytes().to_vec())
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
        Ok(v.to_vec())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<u8>, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(b) = seq.next_element::<u8>()? {
            out.push(b);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use crate::record::ProducerRecord;

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
        assert!(json.contains(r#""key":[255,0,65]"#), "{json}");
        let back: ProducerRecord = serde_json::from_str(&json).unwrap();
        assert_eq!(back, record);
        let none = ProducerRecord { topic: "t".into(), ..Default::default() };
        assert_eq!(serde_json::from_str::<ProducerRecord>(&serde_json::to_string(&none).unwrap()).unwrap(), none);
    }
}

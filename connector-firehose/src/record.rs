//! A record as the sink buffers it: its bytes (base64 in checkpoint state).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The bytes of one Firehose record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirehoseRecord(pub Vec<u8>);

impl Serialize for FirehoseRecord {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&STANDARD.encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for FirehoseRecord {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        STANDARD.decode(text).map(FirehoseRecord).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_checkpoint_json() {
        let record = FirehoseRecord(vec![0, 1, 2, 255, b'\n']);
        let json = serde_json::to_string(&record).unwrap_or_default();
        assert_eq!(json, "\"AAEC/wo=\"");
        let back: Option<FirehoseRecord> = serde_json::from_str(&json).ok();
        assert_eq!(back, Some(record));
    }
}

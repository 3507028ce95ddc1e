//! A record as the sink buffers it: its bytes (text, or base64 for other bytes, in
//! checkpoint state).

use serde::{Deserialize, Serialize};

/// The bytes of one Firehose record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FirehoseRecord(#[serde(with = "connector_base::state_bytes")] pub Vec<u8>);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_checkpoint_json() {
        let record = FirehoseRecord(vec![0, 1, 2, 255, b'\n']);
        let json = serde_json::to_string(&record).unwrap_or_default();
        assert_eq!(json, r#"{"base64":"AAEC/wo="}"#);
        let back: Option<FirehoseRecord> = serde_json::from_str(&json).ok();
        assert_eq!(back, Some(record));
    }
}

//! The on-disk format of a checkpoint: a header with a format version and a CRC-32
//! of the payload, then the JSON payload. A changed payload layout gets a new version
//! and a decoder here, so checkpoints survive upgrades.

use super::CheckpointData;

const MAGIC: &[u8; 4] = b"SCKP";
/// Format version written by this build.
pub(crate) const FORMAT_VERSION: u32 = 1;
const HEADER_LEN: usize = 4 + 4 + 4 + 8;

/// Encode a checkpoint into its envelope.
pub(crate) fn encode(checkpoint: &CheckpointData) -> Result<Vec<u8>, serde_json::Error> {
    let payload = serde_json::to_vec(checkpoint)?;
    let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(&payload);
    Ok(out)
}

/// Decode an envelope; the error says what is wrong (truncated, bad checksum, ...).
pub(crate) fn decode(bytes: &[u8]) -> Result<CheckpointData, String> {
    if bytes.len() < HEADER_LEN {
        return Err(format!("truncated header ({} bytes)", bytes.len()));
    }
    if &bytes[0..4] != MAGIC {
        return Err("not a checkpoint file (bad magic)".into());
    }
    let version = u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]);
    if version != FORMAT_VERSION {
        return Err(format!("unknown format version {version} (this build reads {FORMAT_VERSION})"));
    }
    let crc = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
    let mut len_bytes = [0u8; 8];
    len_bytes.copy_from_slice(&bytes[12..20]);
    let len = u64::from_le_bytes(len_bytes);
    let payload = &bytes[HEADER_LEN..];
    if payload.len() as u64 != len {
        return Err(format!("payload is {} bytes, header says {len} (half-written)", payload.len()));
    }
    let actual = crc32fast::hash(payload);
    if actual != crc {
        return Err(format!("checksum mismatch (stored {crc:08x}, computed {actual:08x})"));
    }
    serde_json::from_slice(payload).map_err(|e| format!("payload does not decode: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn sample() -> CheckpointData {
        let mut tasks = BTreeMap::new();
        tasks.insert("0-src/0".to_string(), serde_json::json!([1, 2, 3]));
        CheckpointData { id: 7, timestamp_ms: 1, enumerator: Some(serde_json::json!({"a": 1})), tasks }
    }

    #[test]
    fn round_trips() {
        let bytes = encode(&sample()).unwrap();
        assert_eq!(decode(&bytes).unwrap(), sample());
    }

    #[test]
    fn detects_truncation_flipped_bits_and_unknown_versions() {
        let bytes = encode(&sample()).unwrap();
        assert!(decode(&bytes[..bytes.len() - 3]).unwrap_err().contains("half-written"));
        let mut flipped = bytes.clone();
        let last = flipped.len() - 2;
        flipped[last] ^= 0x01;
        assert!(decode(&flipped).unwrap_err().contains("checksum"));
        let mut future = bytes.clone();
        future[4] = 9;
        assert!(decode(&future).unwrap_err().contains("version 9"));
        assert!(decode(&bytes[..5]).unwrap_err().contains("truncated"));
    }
}

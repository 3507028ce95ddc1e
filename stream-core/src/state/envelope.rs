//! The on-disk format of a checkpoint. A header (magic, format version, a CRC-32 and
//! the length of what follows it), then:
//!
//! - format 1 (read only): the whole checkpoint as JSON, task states included;
//! - format 2 (written): small metadata (id, time, and per state its key, length and
//!   CRC-32) in MessagePack, then every state's bytes one after the other. The
//!   header's CRC covers the metadata; each state has its own, so a damaged state is
//!   named.
//!
//! A changed layout gets a new version and a decoder here, so checkpoints survive
//! upgrades.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{CheckpointData, StateBlob};

const MAGIC: &[u8; 4] = b"SCKP";
/// Format version written by this build.
pub(crate) const FORMAT_VERSION: u32 = 2;
const HEADER_LEN: usize = 4 + 4 + 4 + 8;
/// The key of the enumerator's state among the task states of format 2.
const ENUMERATOR: &str = "";

/// Format 1's payload.
#[derive(Deserialize)]
struct JsonCheckpoint {
    id: u64,
    timestamp_ms: u64,
    enumerator: Option<serde_json::Value>,
    tasks: BTreeMap<String, serde_json::Value>,
}

/// Format 2's metadata.
#[derive(Serialize, Deserialize)]
struct Metadata {
    id: u64,
    timestamp_ms: u64,
    /// `(key, length, CRC-32)` of each state, in the order of their bytes.
    states: Vec<(String, u64, u32)>,
}

fn header(version: u32, crc: u32, len: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&version.to_le_bytes());
    out.extend_from_slice(&crc.to_le_bytes());
    out.extend_from_slice(&len.to_le_bytes());
    out
}

/// Encode a checkpoint in format 2. A state still in JSON (restored from format 1 and
/// not yet snapshotted again) is encoded with the state codec first.
pub(crate) fn encode(checkpoint: &CheckpointData) -> Result<Vec<u8>, String> {
    let mut owned: Vec<(&str, std::borrow::Cow<'_, [u8]>)> = Vec::with_capacity(checkpoint.tasks.len() + 1);
    let states = checkpoint
        .enumerator
        .iter()
        .map(|e| (ENUMERATOR, e))
        .chain(checkpoint.tasks.iter().map(|(k, v)| (k.as_str(), v)));
    for (key, state) in states {
        let bytes = match state {
            StateBlob::Encoded(bytes) => std::borrow::Cow::Borrowed(bytes.as_slice()),
            StateBlob::Json(value) => {
                std::borrow::Cow::Owned(rmp_serde::to_vec_named(value).map_err(|e| format!("state {key}: {e}"))?)
            }
        };
        owned.push((key, bytes));
    }
    let metadata = Metadata {
        id: checkpoint.id,
        timestamp_ms: checkpoint.timestamp_ms,
        states: owned.iter().map(|(k, b)| (k.to_string(), b.len() as u64, crc32fast::hash(b))).collect(),
    };
    let meta = rmp_serde::to_vec_named(&metadata).map_err(|e| format!("metadata: {e}"))?;
    let total: usize = owned.iter().map(|(_, b)| b.len()).sum();
    let mut out = header(FORMAT_VERSION, crc32fast::hash(&meta), meta.len() as u64);
    out.reserve(meta.len() + total);
    out.extend_from_slice(&meta);
    for (_, bytes) in &owned {
        out.extend_from_slice(bytes);
    }
    Ok(out)
}

/// Decode the envelope of checkpoint `id` (named by its file or claim); the error says
/// what is wrong, also when the envelope holds another checkpoint.
pub(crate) fn decode_as(bytes: &[u8], id: u64) -> Result<CheckpointData, String> {
    let data = decode(bytes)?;
    if data.id != id {
        return Err(format!("holds checkpoint {} where {id} was expected (its name and content disagree)", data.id));
    }
    Ok(data)
}

/// Decode an envelope of format 1 or 2; the error says what is wrong (truncated, bad
/// checksum and where, ...).
pub(crate) fn decode(bytes: &[u8]) -> Result<CheckpointData, String> {
    if bytes.len() < HEADER_LEN {
        return Err(format!("truncated header ({} bytes)", bytes.len()));
    }
    if &bytes[0..4] != MAGIC {
        return Err("not a checkpoint file (bad magic)".into());
    }
    let version = u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]);
    let crc = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
    let mut len_bytes = [0u8; 8];
    len_bytes.copy_from_slice(&bytes[12..20]);
    let len = u64::from_le_bytes(len_bytes);
    let rest = &bytes[HEADER_LEN..];
    match version {
        1 => decode_v1(rest, crc, len),
        2 => decode_v2(rest, crc, len),
        _ => Err(format!("unknown format version {version} (this build reads 1 and {FORMAT_VERSION})")),
    }
}

fn checked<'a>(what: &str, bytes: &'a [u8], crc: u32) -> Result<&'a [u8], String> {
    let actual = crc32fast::hash(bytes);
    if actual != crc {
        return Err(format!("checksum mismatch in {what} (stored {crc:08x}, computed {actual:08x})"));
    }
    Ok(bytes)
}

fn decode_v1(payload: &[u8], crc: u32, len: u64) -> Result<CheckpointData, String> {
    if payload.len() as u64 != len {
        return Err(format!("payload is {} bytes, header says {len} (half-written)", payload.len()));
    }
    let json: JsonCheckpoint = serde_json::from_slice(checked("the payload", payload, crc)?)
        .map_err(|e| format!("payload does not decode: {e}"))?;
    Ok(CheckpointData {
        id: json.id,
        timestamp_ms: json.timestamp_ms,
        enumerator: json.enumerator.map(StateBlob::Json),
        tasks: json.tasks.into_iter().map(|(k, v)| (k, StateBlob::Json(v))).collect(),
    })
}

fn decode_v2(rest: &[u8], crc: u32, len: u64) -> Result<CheckpointData, String> {
    let meta_len = usize::try_from(len).map_err(|_| format!("metadata length {len} is not addressable"))?;
    if rest.len() < meta_len {
        return Err(format!("metadata is {} bytes, header says {len} (half-written)", rest.len()));
    }
    let (meta, mut data) = rest.split_at(meta_len);
    let metadata: Metadata = rmp_serde::from_slice(checked("the metadata", meta, crc)?)
        .map_err(|e| format!("metadata does not decode: {e}"))?;
    let expected: u64 = metadata.states.iter().map(|(_, len, _)| *len).sum();
    if data.len() as u64 != expected {
        return Err(format!("states are {} bytes, the metadata says {expected} (half-written)", data.len()));
    }
    let mut checkpoint = CheckpointData {
        id: metadata.id,
        timestamp_ms: metadata.timestamp_ms,
        enumerator: None,
        tasks: BTreeMap::new(),
    };
    for (key, len, crc) in metadata.states {
        let (state, tail) = data.split_at(len as usize);
        data = tail;
        let what = if key == ENUMERATOR { "the enumerator's state".to_string() } else { format!("the state of {key}") };
        let blob = StateBlob::Encoded(checked(&what, state, crc)?.to_vec());
        if key == ENUMERATOR {
            checkpoint.enumerator = Some(blob);
        } else {
            checkpoint.tasks.insert(key, blob);
        }
    }
    Ok(checkpoint)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> CheckpointData {
        let mut tasks = BTreeMap::new();
        tasks.insert("src/0".to_string(), StateBlob::encode("t", &vec![1u64, 2, 3]).unwrap());
        tasks.insert("count/1".to_string(), StateBlob::encode("t", &vec![(7u64, 2u64)]).unwrap());
        let enumerator = Some(StateBlob::encode("t", &serde_json::json!({"a": 1})).unwrap());
        CheckpointData { id: 7, timestamp_ms: 1, enumerator, tasks }
    }

    #[test]
    fn round_trips() {
        let bytes = encode(&sample()).unwrap();
        assert_eq!(&bytes[4..8], &2u32.to_le_bytes());
        assert_eq!(decode(&bytes).unwrap(), sample());
    }

    #[test]
    fn format_1_still_decodes_into_json_states() {
        let payload = br#"{"id":3,"timestamp_ms":5,"enumerator":[],"tasks":{"0-src/0":[[1,2]]}}"#;
        let mut bytes = header(1, crc32fast::hash(payload), payload.len() as u64);
        bytes.extend_from_slice(payload);
        let checkpoint = decode(&bytes).unwrap();
        assert_eq!(checkpoint.id, 3);
        assert_eq!(checkpoint.tasks["0-src/0"], StateBlob::Json(serde_json::json!([[1, 2]])));
        // Written again, it is format 2 with the same states.
        let again = decode(&encode(&checkpoint).unwrap()).unwrap();
        let splits: Vec<(u64, u64)> = again.tasks["0-src/0"].decode("t").unwrap();
        assert_eq!(splits, vec![(1, 2)]);
    }

    #[test]
    fn a_damaged_state_is_named_and_truncation_and_unknown_versions_are_told() {
        let bytes = encode(&sample()).unwrap();
        // The last byte belongs to the last state in key order after the enumerator: src/0.
        let mut flipped = bytes.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 0x01;
        let err = decode(&flipped).unwrap_err();
        assert!(err.contains("checksum mismatch in the state of src/0"), "{err}");
        let mut meta = bytes.clone();
        meta[HEADER_LEN + 2] ^= 0x01;
        assert!(decode(&meta).unwrap_err().contains("checksum mismatch in the metadata"));
        assert!(decode(&bytes[..bytes.len() - 3]).unwrap_err().contains("half-written"));
        let mut future = bytes.clone();
        future[4] = 9;
        assert!(decode(&future).unwrap_err().contains("version 9"));
        assert!(decode(&bytes[..5]).unwrap_err().contains("truncated"));
    }
}

//! The records of one exactly-once transaction, kept for its committable in a compact
//! binary log: appending is a copy of the bytes, and the checkpoint stores the whole
//! log as one value (`connector_base::state_bytes`: raw bytes in checkpoint format 2)
//! instead of a state object per record, which made checkpoints of a busy sink take
//! most of their interval when state was JSON.
//!
//! Layout of one record, integers little-endian: topic index `u32` (into `topics`),
//! partition `i32` (`-1` = the partitioner's choice), timestamp flag `u8` + `i64`, key
//! and value as `u32` length (`u32::MAX` = none) + bytes, header count `u32`, then per
//! header a name and a value as length + bytes.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::record::ProducerRecord;

const NONE: u32 = u32::MAX;

/// Records appended in order; see the module docs for the layout.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct RecordLog {
    topics: Vec<String>,
    bytes: Vec<u8>,
    len: usize,
}

impl std::fmt::Debug for RecordLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordLog").field("records", &self.len).field("bytes", &self.bytes.len()).finish()
    }
}

impl RecordLog {
    /// Number of records.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it holds no record.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Append `record`.
    pub fn push(&mut self, record: &ProducerRecord) {
        let topic = match self.topics.iter().position(|t| *t == record.topic) {
            Some(i) => i,
            None => {
                self.topics.push(record.topic.clone());
                self.topics.len() - 1
            }
        };
        self.put_u32(topic as u32);
        self.bytes.extend_from_slice(&record.partition.unwrap_or(-1).to_le_bytes());
        match record.timestamp_ms {
            Some(ts) => {
                self.bytes.push(1);
                self.bytes.extend_from_slice(&ts.to_le_bytes());
            }
            None => self.bytes.push(0),
        }
        self.put_optional(record.key.as_deref());
        self.put_optional(record.value.as_deref());
        self.put_u32(record.headers.len() as u32);
        for (name, value) in &record.headers {
            self.put_optional(Some(name.as_bytes()));
            self.put_optional(Some(value));
        }
        self.len += 1;
    }

    /// The records in order; an error names what is malformed (a corrupt state).
    pub fn records(&self) -> impl Iterator<Item = Result<ProducerRecord, String>> + '_ {
        let mut reader = Reader { bytes: &self.bytes, at: 0 };
        let mut left = self.len;
        std::iter::from_fn(move || {
            if left == 0 {
                return None;
            }
            left -= 1;
            let record = reader.record(&self.topics);
            if record.is_err() {
                left = 0;
            }
            Some(record)
        })
    }

    fn put_u32(&mut self, n: u32) {
        self.bytes.extend_from_slice(&n.to_le_bytes());
    }

    fn put_optional(&mut self, bytes: Option<&[u8]>) {
        match bytes {
            Some(b) => {
                self.put_u32(b.len() as u32);
                self.bytes.extend_from_slice(b);
            }
            None => self.put_u32(NONE),
        }
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], String> {
        let end = self.at.checked_add(n).filter(|end| *end <= self.bytes.len());
        let Some(end) = end else {
            return Err(format!("record log truncated at byte {} (wanted {n} more)", self.at));
        };
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn optional(&mut self) -> Result<Option<Vec<u8>>, String> {
        match u32::from_le_bytes(self.array()?) {
            NONE => Ok(None),
            n => Ok(Some(self.take(n as usize)?.to_vec())),
        }
    }

    fn present(&mut self, what: &str) -> Result<Vec<u8>, String> {
        self.optional()?.ok_or_else(|| format!("record log: a header {what} is missing at byte {}", self.at))
    }

    fn record(&mut self, topics: &[String]) -> Result<ProducerRecord, String> {
        let index = u32::from_le_bytes(self.array()?) as usize;
        let topic = topics.get(index).ok_or_else(|| format!("record log names topic #{index} of {}", topics.len()))?;
        let partition = i32::from_le_bytes(self.array()?);
        let timestamp_ms = match self.array::<1>()? {
            [0] => None,
            _ => Some(i64::from_le_bytes(self.array()?)),
        };
        let key = self.optional()?;
        let value = self.optional()?;
        let count = u32::from_le_bytes(self.array()?);
        let mut headers = Vec::new();
        for _ in 0..count {
            let name = String::from_utf8(self.present("name")?).map_err(|e| format!("record log: header name: {e}"))?;
            headers.push((name, self.present("value")?));
        }
        Ok(ProducerRecord {
            topic: topic.clone(),
            partition: (partition >= 0).then_some(partition),
            key,
            value,
            headers,
            timestamp_ms,
        })
    }
}

#[derive(Serialize)]
struct Stored<'a> {
    topics: &'a [String],
    records: usize,
    #[serde(with = "connector_base::state_bytes")]
    log: &'a [u8],
}

#[derive(Deserialize)]
struct Restored {
    topics: Vec<String>,
    records: usize,
    #[serde(with = "connector_base::state_bytes")]
    log: Vec<u8>,
}

impl Serialize for RecordLog {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        Stored { topics: &self.topics, records: self.len, log: &self.bytes }.serialize(s)
    }
}

impl<'de> Deserialize<'de> for RecordLog {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let stored = Restored::deserialize(d)?;
        Ok(RecordLog { topics: stored.topics, bytes: stored.log, len: stored.records })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn record(topic: &str, i: u8) -> ProducerRecord {
        ProducerRecord {
            topic: topic.into(),
            partition: i.is_multiple_of(2).then_some(i32::from(i)),
            key: (!i.is_multiple_of(3)).then(|| vec![i; 3]),
            value: Some(vec![0xff, i, 0]),
            headers: (0..i % 3).map(|h| (format!("h{h}"), vec![h])).collect(),
            timestamp_ms: i.is_multiple_of(4).then_some(-5 + i64::from(i)),
        }
    }

    /// A log of 20 records on two topics, and the records.
    fn twenty() -> (RecordLog, Vec<ProducerRecord>) {
        let mut log = RecordLog::default();
        let records: Vec<_> = (0..20).map(|i| record(if i % 5 == 0 { "b" } else { "a" }, i)).collect();
        for r in &records {
            log.push(r);
        }
        (log, records)
    }

    #[test]
    fn round_trips_through_checkpoint_json() {
        let (log, records) = twenty();
        let json = serde_json::to_value(&log).unwrap();
        let back: RecordLog = serde_json::from_value(json).unwrap();
        assert_eq!(back.len(), 20);
        assert_eq!(back.records().collect::<Result<Vec<_>, _>>().unwrap(), records);
    }

    /// In checkpoint format 2 the log's bytes are stored as they are: the encoded state
    /// is barely larger than the log (JSON made it base64, a third larger).
    #[test]
    fn round_trips_through_checkpoint_format_2_as_raw_bytes() {
        let (log, records) = twenty();
        let blob = stream_core::state::StateBlob::encode("log", &log).unwrap();
        assert!(
            blob.encoded_size() < log.bytes.len() + 64,
            "{} bytes for a log of {}",
            blob.encoded_size(),
            log.bytes.len()
        );
        let back: RecordLog = blob.decode("log").unwrap();
        assert_eq!(back.records().collect::<Result<Vec<_>, _>>().unwrap(), records);
        // A format-1 (JSON) state of the same log still reads.
        let json = stream_core::state::StateBlob::Json(serde_json::to_value(&log).unwrap());
        assert_eq!(json.decode::<RecordLog>("log").unwrap(), log);
    }

    #[test]
    fn a_truncated_log_is_an_error_not_a_panic() {
        let mut log = RecordLog::default();
        log.push(&record("a", 1));
        log.push(&record("a", 2));
        log.bytes.truncate(log.bytes.len() - 2);
        let out: Vec<_> = log.records().collect();
        assert!(out[0].is_ok());
        assert!(out[1].as_ref().unwrap_err().contains("truncated"), "{out:?}");
        assert_eq!(out.len(), 2);
    }
}

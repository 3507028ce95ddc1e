//! Reading an aborted transaction's records back from where they landed, to write them
//! again (recovery; see `transaction.rs`). Kafka keeps an aborted transaction's records
//! in the log, hidden from `read_committed` readers only, until retention (or, on a
//! compacted topic, the cleaner) removes them; a `read_uncommitted` read at their
//! offsets returns them as they were written.

use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::{Offset, TopicPartitionList};
use stream_core::Result;

use super::written::PartitionRuns;
use crate::client::ClientProperties;
use crate::error::KafkaError;
use crate::record::ProducerRecord;

/// How long the read may go without a record before it gives up.
const STALL_LIMIT: Duration = Duration::from_secs(30);

/// The records of transaction `id` at `part`, in offset order, each addressed to the
/// partition it landed in. Blocks: call on a blocking thread.
pub(crate) fn read_back(client: &ClientProperties, id: &str, part: &PartitionRuns<'_>) -> Result<Vec<ProducerRecord>> {
    let mut wanted = part.runs.iter().flat_map(|(first, count)| *first..*first + *count as i64).peekable();
    let Some(&first) = wanted.peek() else { return Ok(Vec::new()) };
    let gone = |offset: i64, reason: String| KafkaError::RecordGone {
        id: id.to_string(),
        topic: part.topic.to_string(),
        partition: part.partition,
        offset,
        reason,
    };
    let consumer: BaseConsumer = client
        .config(&[
            ("group.id", &format!("{id}-read-back")),
            ("enable.auto.commit", "false"),
            ("isolation.level", "read_uncommitted"),
            ("enable.partition.eof", "true"),
            ("auto.offset.reset", "earliest"),
        ])
        .create()
        .map_err(|e| KafkaError::client("create read-back consumer", e))?;
    let mut list = TopicPartitionList::new();
    list.add_partition_offset(part.topic, part.partition, Offset::Offset(first))
        .map_err(|e| KafkaError::client("read back", e))?;
    consumer.assign(&list).map_err(|e| KafkaError::client("read back", e))?;
    let mut out = Vec::new();
    let mut last_progress = Instant::now();
    while let Some(&next) = wanted.peek() {
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) if m.offset() < next => {}
            Some(Ok(m)) if m.offset() == next => {
                out.push(ProducerRecord {
                    topic: part.topic.to_string(),
                    partition: Some(part.partition),
                    key: m.key().map(<[u8]>::to_vec),
                    value: m.payload().map(<[u8]>::to_vec),
                    headers: m
                        .headers()
                        .map(|h| h.iter().map(|h| (h.key.to_string(), h.value.unwrap_or_default().to_vec())).collect())
                        .unwrap_or_default(),
                    timestamp_ms: m.timestamp().to_millis(),
                });
                wanted.next();
                last_progress = Instant::now();
            }
            Some(Ok(m)) => return Err(gone(next, format!("the log continues at offset {}", m.offset())).into()),
            Some(Err(rdkafka::error::KafkaError::PartitionEOF(_))) => {
                return Err(gone(next, "the partition ends before it".into()).into());
            }
            Some(Err(e)) => return Err(KafkaError::client("read back", e)),
            None if last_progress.elapsed() > STALL_LIMIT => {
                return Err(KafkaError::client("read back", format!("no record within {STALL_LIMIT:?}")));
            }
            None => {}
        }
    }
    Ok(out)
}

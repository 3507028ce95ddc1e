//! Reading an aborted transaction's records back from where they landed, to write them
//! again (recovery; see `transaction.rs`). Kafka keeps an aborted transaction's records
//! in the log, hidden from `read_committed` readers only, until retention (or, on a
//! compacted topic, the cleaner) removes them; a `read_uncommitted` read at their
//! offsets returns them as they were written.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{BorrowedMessage, Headers, Message};
use rdkafka::{Offset, TopicPartitionList};
use stream_core::{Result, StreamError};

use super::written::WrittenOffsets;
use crate::client::{ClientProperties, DropInBackground};
use crate::error::KafkaError;
use crate::logging::Logged;
use crate::record::ProducerRecord;

/// How long the read may go without a record before it gives up.
const STALL_LIMIT: Duration = Duration::from_secs(30);

/// One partition's part of the read: the offsets still wanted, in order.
struct Wanted {
    offsets: std::iter::Peekable<std::vec::IntoIter<i64>>,
    records: Vec<ProducerRecord>,
}

/// The records of transaction `id` that `written` names, per partition in offset
/// order, each addressed to the partition it landed in. Blocks: call on a blocking
/// thread.
pub(crate) fn read_back(client: &ClientProperties, id: &str, written: &WrittenOffsets) -> Result<Vec<ProducerRecord>> {
    let corrupt = |e: String| {
        KafkaError::failed("recover transaction", format!("the checkpoint holds corrupt offsets of {id}: {e}"))
    };
    let mut wanted: HashMap<(String, i32), Wanted> = HashMap::new();
    let mut list = TopicPartitionList::new();
    for part in written.partitions() {
        let part = part.map_err(corrupt)?;
        let offsets: Vec<i64> = part.runs.iter().flat_map(|(first, n)| *first..*first + *n as i64).collect();
        let Some(&first) = offsets.first() else { continue };
        list.add_partition_offset(part.topic, part.partition, Offset::Offset(first))
            .map_err(|e| KafkaError::client("read back", e))?;
        wanted.insert(
            (part.topic.to_string(), part.partition),
            Wanted { offsets: offsets.into_iter().peekable(), records: Vec::new() },
        );
    }
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    let consumer: BaseConsumer<Logged> = client
        .config(&[
            ("group.id", &format!("{id}-read-back")),
            ("enable.auto.commit", "false"),
            ("isolation.level", "read_uncommitted"),
            ("enable.partition.eof", "true"),
            ("auto.offset.reset", "earliest"),
        ])
        .create_with_context(Logged::default())
        .map_err(|e| KafkaError::client("create read-back consumer", e))?;
    let consumer = DropInBackground::new(consumer);
    consumer.assign(&list).map_err(|e| KafkaError::client("read back", e))?;
    let mut open = wanted.len();
    let mut last_progress = Instant::now();
    while open > 0 {
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                last_progress = Instant::now();
                let key = (m.topic().to_string(), m.partition());
                let Some(part) = wanted.get_mut(&key) else { continue };
                let Some(&next) = part.offsets.peek() else { continue };
                if m.offset() < next {
                    continue;
                }
                if m.offset() > next {
                    return Err(gone(id, &key, next, format!("the log continues at offset {}", m.offset())));
                }
                part.records.push(record(&m));
                part.offsets.next();
                if part.offsets.peek().is_none() {
                    open -= 1;
                }
            }
            Some(Err(rdkafka::error::KafkaError::PartitionEOF(partition))) => {
                // The end names the partition, not the topic: ask for the end of each
                // unfinished one with that number.
                for (key, part) in wanted.iter_mut().filter(|((_, p), _)| *p == partition) {
                    let Some(&next) = part.offsets.peek() else { continue };
                    let (_, high) = consumer
                        .fetch_watermarks(&key.0, key.1, STALL_LIMIT)
                        .map_err(|e| KafkaError::client("read back", e))?;
                    if next >= high {
                        return Err(gone(id, key, next, format!("the partition ends at offset {high}")));
                    }
                }
            }
            Some(Err(e)) => return Err(KafkaError::client("read back", e)),
            None if last_progress.elapsed() > STALL_LIMIT => {
                return Err(KafkaError::failed("read back", format!("no record within {STALL_LIMIT:?}")));
            }
            None => {}
        }
    }
    Ok(wanted.into_values().flat_map(|w| w.records).collect())
}

fn gone(id: &str, (topic, partition): &(String, i32), offset: i64, reason: String) -> StreamError {
    KafkaError::RecordGone { id: id.to_string(), topic: topic.clone(), partition: *partition, offset, reason }.into()
}

/// `m` as a record to write again, to the partition it landed in.
fn record(m: &BorrowedMessage<'_>) -> ProducerRecord {
    ProducerRecord {
        topic: m.topic().to_string(),
        partition: Some(m.partition()),
        key: m.key().map(<[u8]>::to_vec),
        value: m.payload().map(<[u8]>::to_vec),
        headers: m
            .headers()
            .map(|h| h.iter().map(|h| (h.key.to_string(), h.value.unwrap_or_default().to_vec())).collect())
            .unwrap_or_default(),
        timestamp_ms: m.timestamp().to_millis(),
    }
}

//! Reads the assigned streams with background fetchers ([`FetcherReader`]): `XREAD`
//! after the last delivered id, or in consumer-group mode first this consumer's
//! pending entries (delivered before a restart, never acknowledged), then new ones
//! with `XREADGROUP >`, acknowledged once a checkpoint covering them completes.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use connector_base::split_reader::{Fetch, FetcherConfig, FetcherReader, SplitFetcher};
use redis::Value;
use stream_core::Result;
use stream_core::api::{ReadStatus, SourceReader};

use super::entry::{StreamEntry, parse_read_reply};
use super::split::{StreamId, StreamSplit};
use crate::config::{ConsumerGroup, RedisStreamsSource};
use crate::connection::{Connection, transient};
use crate::error::RedisError;

/// How long a fetch keeps retrying a lost connection (a server restart) before the
/// reader fails and the job restarts from its checkpoint.
const RECONNECT_FOR: Duration = Duration::from_secs(15);

fn consumer_name(group: &ConsumerGroup, key: &str) -> String {
    format!("{}-{key}", group.consumer)
}

/// Reads splits for one fetcher task.
pub struct StreamFetcher {
    connection: Connection,
    group: Option<ConsumerGroup>,
}

impl StreamFetcher {
    async fn query(&mut self, cmd: &redis::Cmd, command: &'static str, key: &str) -> Result<Value> {
        let started = Instant::now();
        loop {
            match self.connection.query(cmd).await {
                Ok(v) => return Ok(v),
                Err(e) if transient(&e) && started.elapsed() < RECONNECT_FOR => {
                    tracing::warn!(stream = key, error = %e, "redis read failed; retrying");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => return Err(RedisError::command(command, key, e)),
            }
        }
    }
}

impl SplitFetcher for StreamFetcher {
    type Split = StreamSplit;
    type Record = StreamEntry;

    async fn fetch(&mut self, split: &mut StreamSplit, max: usize) -> Result<Fetch<StreamEntry>> {
        if split.stop.is_some_and(|stop| split.last >= stop) {
            return Ok(Fetch::Finished);
        }
        let (command, reply) = match self.group.clone() {
            None => {
                let mut cmd = redis::cmd("XREAD");
                cmd.arg("COUNT").arg(max).arg("STREAMS").arg(&split.key).arg(split.last.to_string());
                ("XREAD", self.query(&cmd, "XREAD", &split.key).await?)
            }
            Some(group) => {
                let from = split.pending_from.map_or_else(|| ">".to_string(), |id| id.to_string());
                let mut cmd = redis::cmd("XREADGROUP");
                cmd.arg("GROUP").arg(&group.group).arg(consumer_name(&group, &split.key));
                cmd.arg("COUNT").arg(max).arg("STREAMS").arg(&split.key).arg(from);
                ("XREADGROUP", self.query(&cmd, "XREADGROUP", &split.key).await?)
            }
        };
        let entries = parse_read_reply(command, &reply)?;
        if entries.is_empty() {
            if split.pending_from.take().is_some() {
                return Ok(Fetch::Records(Vec::new())); // pending drained: new entries next
            }
            // A bounded stream trimmed below its end has nothing more to give.
            return Ok(if split.stop.is_some() { Fetch::Finished } else { Fetch::Empty });
        }
        let mut out = Vec::with_capacity(entries.len());
        for (entry, deleted) in entries {
            if split.stop.is_some_and(|stop| entry.id > stop) {
                split.last = split.stop.unwrap_or(split.last);
                break;
            }
            split.last = split.last.max(entry.id);
            if let Some(from) = split.pending_from.as_mut() {
                *from = entry.id;
            }
            if !deleted {
                out.push(entry);
            }
        }
        Ok(Fetch::Records(out))
    }
}

/// The reader of one subtask.
pub struct RedisStreamsReader {
    inner: FetcherReader<StreamFetcher>,
    acks: Option<(Connection, ConsumerGroup)>,
    /// Consumer-group mode: positions per checkpoint, acknowledged on completion.
    snapshots: BTreeMap<u64, Vec<(String, StreamId)>>,
}

impl RedisStreamsReader {
    pub(crate) async fn new(source: &RedisStreamsSource) -> Result<Self> {
        let connection = source.endpoint.connect().await?;
        let group = source.group.clone();
        let config = FetcherConfig { batch_size: source.batch_size, ..FetcherConfig::default() };
        let (c, g) = (connection.clone(), group.clone());
        let inner = FetcherReader::new(config, move || StreamFetcher { connection: c.clone(), group: g.clone() })?;
        Ok(RedisStreamsReader { inner, acks: group.map(|g| (connection, g)), snapshots: BTreeMap::new() })
    }
}

/// Acknowledge this consumer's pending entries of `key` up to `last`.
async fn ack_through(connection: &mut Connection, group: &ConsumerGroup, key: &str, last: StreamId) -> Result<usize> {
    const PAGE: usize = 1_000;
    let mut acked = 0;
    loop {
        let mut cmd = redis::cmd("XPENDING");
        cmd.arg(key).arg(&group.group).arg("-").arg(last.to_string()).arg(PAGE).arg(consumer_name(group, key));
        let reply = connection.query(&cmd).await.map_err(|e| RedisError::command("XPENDING", key, e))?;
        let Value::Array(rows) = &reply else { return Err(RedisError::reply("XPENDING", &reply)) };
        let ids: Vec<Vec<u8>> = rows
            .iter()
            .filter_map(|row| match row {
                Value::Array(cols) => match cols.first() {
                    Some(Value::BulkString(id)) => Some(id.clone()),
                    _ => None,
                },
                _ => None,
            })
            .collect();
        if ids.is_empty() {
            return Ok(acked);
        }
        let mut ack = redis::cmd("XACK");
        ack.arg(key).arg(&group.group).arg(&ids);
        connection.query(&ack).await.map_err(|e| RedisError::command("XACK", key, e))?;
        acked += ids.len();
        if ids.len() < PAGE {
            return Ok(acked);
        }
    }
}

impl SourceReader for RedisStreamsReader {
    type Output = StreamEntry;
    type Split = StreamSplit;

    fn add_splits(&mut self, mut splits: Vec<StreamSplit>) {
        if self.acks.is_some() {
            // Entries after the checkpointed position may have been delivered to this
            // consumer and never acknowledged: read them again first.
            for split in &mut splits {
                split.pending_from = Some(split.last);
            }
        }
        self.inner.add_splits(splits);
    }

    fn notify_no_more_splits(&mut self) {
        self.inner.notify_no_more_splits();
    }

    fn take_finished_splits(&mut self) -> Vec<String> {
        self.inner.take_finished_splits()
    }

    async fn poll_next(&mut self, out: &mut Vec<StreamEntry>) -> Result<ReadStatus> {
        self.inner.poll_next(out).await
    }

    async fn wait_available(&mut self) {
        self.inner.wait_available().await;
    }

    fn snapshot_state(&mut self, checkpoint_id: u64) -> Result<Vec<StreamSplit>> {
        let splits = self.inner.snapshot_state(checkpoint_id)?;
        if self.acks.is_some() {
            self.snapshots.insert(checkpoint_id, splits.iter().map(|s| (s.key.clone(), s.last)).collect());
        }
        Ok(splits)
    }

    /// Consumer-group mode: acknowledge what the completed checkpoint covers. A failed
    /// acknowledgement is only logged: the entries are delivered again after a
    /// restart (at-least-once).
    async fn notify_checkpoint_complete(&mut self, checkpoint_id: u64) -> Result<()> {
        self.inner.notify_checkpoint_complete(checkpoint_id).await?;
        let Some((connection, group)) = self.acks.as_mut() else { return Ok(()) };
        let newer = self.snapshots.split_off(&(checkpoint_id + 1));
        let covered = std::mem::replace(&mut self.snapshots, newer);
        let Some((_, positions)) = covered.into_iter().next_back() else { return Ok(()) };
        for (key, last) in positions {
            match ack_through(connection, group, &key, last).await {
                Ok(n) => tracing::debug!(stream = %key, through = %last, acked = n, "acknowledged"),
                Err(e) => {
                    tracing::warn!(stream = %key, error = %e, "acknowledging failed; entries will be redelivered")
                }
            }
        }
        Ok(())
    }
}

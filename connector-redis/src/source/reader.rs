//! Reads the assigned streams with background fetchers ([`FetcherReader`] over
//! [`StreamFetcher`]); in consumer-group mode, acknowledges what a completed
//! checkpoint covers.

use std::collections::BTreeMap;

use connector_base::split_reader::{FetcherConfig, FetcherReader};
use redis::Value;
use stream_core::Result;
use stream_core::api::{ReadStatus, SourceReader};

use super::entry::StreamEntry;
use super::fetcher::{StreamFetcher, consumer_name};
use super::split::StreamSplit;
use crate::config::{ConsumerGroup, RedisStreamsSource};
use crate::connection::Connection;
use crate::error::RedisError;
use crate::stream_id::StreamId;

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
        let (c, g, r) = (connection.clone(), group.clone(), source.retry.clone());
        let inner = FetcherReader::new(config, move || StreamFetcher {
            connection: c.clone(),
            group: g.clone(),
            retry: r.clone(),
        })?;
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

//! One fetcher task's reads of its streams: `XREAD` after the last delivered id, or
//! in consumer-group mode first this consumer's pending entries (delivered before a
//! restart, never acknowledged), then new ones with `XREADGROUP >`. A lost
//! connection is retried within the source's retry policy.

use connector_base::split_reader::{Fetch, SplitFetcher};
use std::sync::atomic::{AtomicBool, Ordering};

use redis::Value;
use stream_core::Result;
use stream_core::retry::RetryPolicy;

use super::entry::{StreamEntry, parse_read_reply};
use super::split::StreamSplit;
use crate::config::ConsumerGroup;
use crate::connection::Connection;
use crate::error::{RedisError, transient};

/// The consumer of `group` reading `key`.
pub(crate) fn consumer_name(group: &ConsumerGroup, key: &str) -> String {
    format!("{}-{key}", group.consumer)
}

/// Reads splits for one fetcher task.
pub struct StreamFetcher {
    pub(crate) connection: Connection,
    pub(crate) group: Option<ConsumerGroup>,
    pub(crate) retry: RetryPolicy,
}

impl StreamFetcher {
    /// Run `cmd` (`command` on `key`), retrying a lost connection (a server restart)
    /// within the retry policy; then the reader fails and the job restarts from its
    /// checkpoint.
    async fn query(&mut self, cmd: &redis::Cmd, command: &'static str, key: &str) -> Result<Value> {
        let connection = self.connection.clone();
        let query = || {
            let mut connection = connection.clone();
            async move { connection.query(cmd).await }
        };
        self.retry.retry(key, query, transient).await.map_err(|e| RedisError::gave_up(command, key, e))
    }
}

impl StreamFetcher {
    /// `XREADGROUP` for `split`: its pending entries while it drains them, else new
    /// ones (`>`). A `>` read whose reply was lost (the connection failed) may still
    /// have delivered entries to this consumer, which would then sit in its pending
    /// list until a restart: so every retry after a failure reads the pending entries
    /// after the last one emitted, and the split drains them before reading new ones.
    async fn read_group(&mut self, group: &ConsumerGroup, split: &mut StreamSplit, max: usize) -> Result<Value> {
        let consumer = consumer_name(group, &split.key);
        let failed = AtomicBool::new(false);
        let (connection, pending_from, last) = (self.connection.clone(), split.pending_from, split.last);
        let query = || {
            let mut connection = connection.clone();
            let from = match pending_from {
                Some(id) => id.to_string(),
                None if failed.load(Ordering::Relaxed) => last.to_string(),
                None => ">".to_string(),
            };
            let mut cmd = redis::cmd("XREADGROUP");
            cmd.arg("GROUP").arg(&group.group).arg(&consumer);
            cmd.arg("COUNT").arg(max).arg("STREAMS").arg(&split.key).arg(from);
            let failed = &failed;
            async move {
                let reply = connection.query(&cmd).await;
                if reply.is_err() {
                    failed.store(true, Ordering::Relaxed);
                }
                reply
            }
        };
        let reply = self
            .retry
            .retry(&split.key, query, transient)
            .await
            .map_err(|e| RedisError::gave_up("XREADGROUP", &split.key, e))?;
        if failed.load(Ordering::Relaxed) && split.pending_from.is_none() {
            split.pending_from = Some(split.last);
        }
        Ok(reply)
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
            Some(group) => ("XREADGROUP", self.read_group(&group, split, max).await?),
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

//! One fetcher task's reads of its streams: `XREAD` after the last delivered id, or
//! in consumer-group mode first this consumer's pending entries (delivered before a
//! restart, never acknowledged), then new ones with `XREADGROUP >`. A lost
//! connection is retried within the source's retry policy.

use connector_base::split_reader::{Fetch, SplitFetcher};
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
        self.retry.retry(key, query, transient).await.map_err(|e| RedisError::command(command, key, e))
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

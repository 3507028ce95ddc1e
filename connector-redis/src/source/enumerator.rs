//! Makes one split per stream key when the job first starts (resolving the start
//! position, the bounded end, and creating the consumer group) and gives stream `i`
//! of the list to subtask `i mod parallelism`.

use redis::Value;
use serde::{Deserialize, Serialize};
use stream_core::api::{EnumeratorContext, SplitEnumerator};
use stream_core::{Replica, Result};

use super::split::StreamSplit;
use crate::config::RedisStreamsSource;
use crate::config::StartPosition;
use crate::connection::Connection;
use crate::error::RedisError;
use crate::stream_id::StreamId;

/// Checkpointed state: splits not yet handed out.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RedisStreamsEnumeratorState {
    /// Unassigned splits.
    pub pending: Vec<StreamSplit>,
}

/// The enumerator.
#[derive(Debug)]
pub struct RedisStreamsEnumerator {
    streams: Vec<String>,
    pending: Vec<StreamSplit>,
    bounded: bool,
}

/// The id of a stream's newest entry (zero when empty or missing).
async fn newest(connection: &mut Connection, key: &str) -> Result<StreamId> {
    let mut cmd = redis::cmd("XREVRANGE");
    cmd.arg(key).arg("+").arg("-").arg("COUNT").arg(1);
    let reply = connection.query(&cmd).await.map_err(|e| RedisError::command("XREVRANGE", key, e))?;
    let Value::Array(entries) = &reply else { return Err(RedisError::reply("XREVRANGE", &reply)) };
    let Some(Value::Array(parts)) = entries.first() else { return Ok(StreamId::ZERO) };
    match parts.first() {
        Some(Value::BulkString(id)) => {
            std::str::from_utf8(id).ok().and_then(StreamId::parse).ok_or_else(|| RedisError::reply("XREVRANGE", &reply))
        }
        _ => Err(RedisError::reply("XREVRANGE", &reply)),
    }
}

impl RedisStreamsEnumerator {
    pub(crate) async fn new(
        source: RedisStreamsSource,
        _parallelism: usize,
        restored: Option<RedisStreamsEnumeratorState>,
    ) -> Result<Self> {
        if let Some(state) = restored {
            return Ok(RedisStreamsEnumerator {
                streams: source.streams,
                pending: state.pending,
                bounded: source.bounded,
            });
        }
        let mut connection = source.endpoint.connect().await?;
        let mut pending = Vec::new();
        for key in &source.streams {
            let top = newest(&mut connection, key).await?;
            let last = match &source.start {
                StartPosition::Beginning => StreamId::ZERO,
                StartPosition::End => top,
                StartPosition::Id(id) => StreamId::parse(id).map(StreamId::before).unwrap_or(StreamId::ZERO),
            };
            if let Some(group) = &source.group {
                let mut cmd = redis::cmd("XGROUP");
                cmd.arg("CREATE").arg(key).arg(&group.group).arg(last.to_string()).arg("MKSTREAM");
                match connection.query(&cmd).await {
                    Ok(_) => {
                        tracing::info!(stream = %key, group = %group.group, from = %last, "consumer group created")
                    }
                    Err(e) if e.code() == Some("BUSYGROUP") => {}
                    Err(e) => return Err(RedisError::command("XGROUP CREATE", key, e)),
                }
            }
            let stop = source.bounded.then_some(top);
            pending.push(StreamSplit { key: key.clone(), last, stop, pending_from: None });
        }
        Ok(RedisStreamsEnumerator { streams: source.streams, pending, bounded: source.bounded })
    }

    /// The reader (of `parallelism`) of stream `key` among the streams `replica`
    /// owns, which go round its readers in the configured order.
    fn owner(&self, key: &str, replica: Replica, parallelism: usize) -> usize {
        let mut owned = self.streams.iter().filter(|k| replica.owns(k.as_str()));
        owned.position(|k| k == key).unwrap_or(0) % parallelism.max(1)
    }
}

impl SplitEnumerator for RedisStreamsEnumerator {
    type Split = StreamSplit;
    type State = RedisStreamsEnumeratorState;

    async fn handle_split_request(&mut self, subtask: usize, ctx: &mut EnumeratorContext<StreamSplit>) -> Result<()> {
        let (parallelism, replica) = (ctx.parallelism(), ctx.replica());
        // Every replica starts with every stream; the others' are dropped here.
        self.pending.retain(|s| replica.owns(&s.key));
        let (mine, others): (Vec<_>, Vec<_>) = std::mem::take(&mut self.pending)
            .into_iter()
            .partition(|s| self.owner(&s.key, replica, parallelism) == subtask);
        self.pending = others;
        for split in mine {
            ctx.assign_split(subtask, split);
        }
        if self.bounded {
            ctx.signal_no_more_splits(subtask);
        }
        Ok(())
    }

    fn add_splits_back(&mut self, splits: Vec<StreamSplit>, _subtask: usize) {
        self.pending.extend(splits);
    }

    fn snapshot_state(&mut self, _checkpoint_id: u64) -> Result<RedisStreamsEnumeratorState> {
        Ok(RedisStreamsEnumeratorState { pending: self.pending.clone() })
    }
}

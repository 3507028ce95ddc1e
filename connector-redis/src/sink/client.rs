//! Sends a batch of commands as one pipeline and sorts the replies into accepted,
//! to retry (the connection failed) and fatal (the server refused a command).

use connector_base::async_sink::{AsyncSinkClient, SubmitResult};
use redis::Value;
use stream_core::StreamError;

use crate::command::RedisCommand;
use crate::connection::Connection;
use crate::error::{RedisError, transient};

/// The [`AsyncSinkClient`] of the Redis sink.
pub struct RedisClient {
    pub(crate) connection: Connection,
}

impl AsyncSinkClient for RedisClient {
    type Entry = RedisCommand;

    fn entry_size(&self, entry: &RedisCommand) -> usize {
        entry.size()
    }

    async fn submit(&self, batch: Vec<RedisCommand>) -> SubmitResult<RedisCommand> {
        let mut pipe = Connection::pipeline(batch.len());
        for entry in &batch {
            pipe.add_command(entry.to_cmd());
        }
        let mut connection = self.connection.clone();
        let mut replies = connection.batch(&pipe).await;
        // A connection cut while idle fails the next batch at once; the connection
        // reconnects on that failure, so the batch goes again on the new one right
        // away instead of after a backoff in which it may be cut again.
        if replies.as_ref().is_err_and(|e| e.is_connection_dropped() || e.is_io_error()) {
            replies = connection.batch(&pipe).await;
        }
        let replies = match replies {
            Ok(replies) => replies,
            Err(e) if transient(&e) => {
                tracing::warn!(error = %e, entries = batch.len(), "redis batch failed; retrying it");
                return SubmitResult::Retry(batch);
            }
            Err(e) => return SubmitResult::Fatal(RedisError::io("pipeline", e)),
        };
        let mut retry = Vec::new();
        for (entry, reply) in batch.into_iter().zip(replies) {
            match reply {
                Ok(_) => {}
                Err(e) if transient(&e) => retry.push(entry),
                Err(e) if is_replayed_xadd(&entry, &e) => {
                    if let Err(error) = confirm_replayed_xadd(&mut connection, &entry).await {
                        return SubmitResult::Fatal(error);
                    }
                }
                Err(e) => {
                    let error =
                        RedisError::Command { command: entry.kind().name(), key: entry.key().to_string(), source: e };
                    return SubmitResult::Fatal(error.into());
                }
            }
        }
        if retry.is_empty() { SubmitResult::Success } else { SubmitResult::Retry(retry) }
    }
}

/// An XADD with an explicit id refused with the generic `ERR` code: the server says
/// so when the id is not above the stream's last one (the case of a re-send), and
/// [`confirm_replayed_xadd`] asks the stream whether it holds the id.
fn is_replayed_xadd(entry: &RedisCommand, e: &redis::RedisError) -> bool {
    matches!(entry, RedisCommand::XAdd { id: Some(_), .. }) && e.code() == Some("ERR")
}

/// An explicit XADD id the server refused as not new: fine if the stream holds that
/// id (a re-send after a restart), an error naming it otherwise.
async fn confirm_replayed_xadd(connection: &mut Connection, entry: &RedisCommand) -> Result<(), StreamError> {
    let RedisCommand::XAdd { key, id: Some(id), .. } = entry else { return Ok(()) };
    let mut cmd = redis::cmd("XRANGE");
    cmd.arg(key).arg(id).arg(id);
    match connection.query(&cmd).await {
        Ok(Value::Array(found)) if !found.is_empty() => Ok(()),
        Ok(_) => Err(RedisError::IdNotIncreasing { key: key.clone(), id: id.to_string() }.into()),
        Err(e) => Err(RedisError::io("XRANGE", e)),
    }
}

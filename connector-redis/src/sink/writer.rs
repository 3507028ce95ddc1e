//! The sink: one pipelined, batching, retrying writer per subtask
//! ([`AsyncSinkWriter`]); buffered commands are part of the checkpoint.

use std::sync::Arc;

use connector_base::DeliveryGuarantee;
use connector_base::async_sink::AsyncSinkWriter;
use stream_core::api::{NoCommitter, Sink, TaskContext};
use stream_core::{Result, StreamError};

use super::client::RedisClient;
use crate::command::{CommandKind, RedisCommand};
use crate::config::RedisSink;

impl<T: Send + 'static> Sink<T> for RedisSink<T> {
    type Committable = ();
    type WriterState = RedisCommand;
    type Writer = AsyncSinkWriter<T, RedisClient>;
    type Committer = NoCommitter<()>;

    async fn create_writer(&self, _ctx: &TaskContext, restored: Vec<RedisCommand>) -> Result<Self::Writer> {
        let connection = self.endpoint.connect().await?;
        let client = Arc::new(RedisClient { connection });
        let (mapper, kind) = (self.mapper.clone(), self.kind);
        let convert = move |record: T| {
            let command = mapper(record);
            check_kind(kind, &command)?;
            Ok(command)
        };
        Ok(AsyncSinkWriter::new(self.async_config.clone(), client, convert, restored))
    }

    async fn create_committer(&self, _ctx: &TaskContext) -> Result<NoCommitter<()>> {
        Ok(NoCommitter::default())
    }
}

/// A command of another kind than declared breaks the declared guarantee.
fn check_kind(declared: CommandKind, command: &RedisCommand) -> Result<()> {
    if command.kind() == declared {
        return Ok(());
    }
    Err(StreamError::invalid(
        "command",
        format!("{} on key `{}`", command.kind().name(), command.key()),
        format!("the sink was built for {}; the mapper must return that kind only", declared.name()),
    ))
}

impl<T> RedisSink<T> {
    /// The guarantee this sink gives.
    pub fn guarantee(&self) -> DeliveryGuarantee {
        self.guarantee
    }
}

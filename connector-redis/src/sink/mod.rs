//! [`crate::RedisSink`]: connector-base's batching, retrying `AsyncSink` with a Redis
//! server as its target, one pipeline per batch; at-least-once for every command,
//! exactly-once for idempotent ones (see [`crate::command`]).

mod client;

pub use client::RedisClient;

use connector_base::DeliveryGuarantee;
use connector_base::async_sink::AsyncSinkTarget;
use stream_core::api::TaskContext;
use stream_core::{Result, StreamError};

use crate::command::{CommandKind, RedisCommand};
use crate::config::RedisTarget;

impl<T: Send + 'static> AsyncSinkTarget<T> for RedisTarget<T> {
    type Client = RedisClient;

    async fn connect(&self, _ctx: &TaskContext) -> Result<RedisClient> {
        Ok(RedisClient { connection: self.endpoint.connect().await? })
    }

    fn connector_name(&self) -> &'static str {
        "redis"
    }

    fn convert(&self, record: T) -> Result<RedisCommand> {
        let command = (self.mapper)(record);
        check_kind(self.kind, &command)?;
        Ok(command)
    }

    fn guarantee(&self) -> DeliveryGuarantee {
        self.guarantee
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

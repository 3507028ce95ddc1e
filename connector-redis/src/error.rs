//! The connector's errors (wrapped in `StreamError::Connector` at the API boundary).

use stream_core::StreamError;

/// What can go wrong talking to Redis.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RedisError {
    /// No connection could be made.
    #[error(
        "cannot connect to redis at {endpoint}: {message} (check the URL, that the server runs, TLS and credentials)"
    )]
    Connect {
        /// The endpoint, credentials redacted.
        endpoint: String,
        /// The client's message.
        message: String,
    },

    /// The server refused a command; retrying cannot help. The client's error is
    /// the source (its `code()` says why, for example WRONGTYPE).
    #[error("redis refused {command} on key `{key}`: {source}")]
    Command {
        /// The command (SET, XADD, ...).
        command: &'static str,
        /// The key it targeted.
        key: String,
        /// The client's error.
        #[source]
        source: redis::RedisError,
    },

    /// An explicit XADD id the server refused that the stream does not hold.
    #[error(
        "redis refused XADD on key `{key}`: id {id} is not above the stream's last id (explicit ids must increase)"
    )]
    IdNotIncreasing {
        /// The stream.
        key: String,
        /// The id.
        id: String,
    },

    /// A command failed on the way (connection lost, timeout).
    #[error("redis {operation} failed: {source}{}", if *.gave_up { "; still failing when the source's retry policy (`retry`) gave up" } else { "" })]
    Io {
        /// What was attempted.
        operation: &'static str,
        /// The client's error.
        #[source]
        source: redis::RedisError,
        /// Whether a retry policy gave up on it.
        gave_up: bool,
    },

    /// The server answered something this connector cannot read.
    #[error("unexpected redis reply to {operation}: {reply}")]
    Reply {
        /// What was attempted.
        operation: &'static str,
        /// The reply, abbreviated.
        reply: String,
    },
}

impl From<RedisError> for StreamError {
    fn from(error: RedisError) -> Self {
        StreamError::connector(error)
    }
}

impl RedisError {
    pub(crate) fn io(operation: &'static str, source: redis::RedisError) -> StreamError {
        RedisError::Io { operation, source, gave_up: false }.into()
    }

    /// A failed command on `key`: a connection problem (`Io`) or a refusal (`Command`).
    pub(crate) fn command(command: &'static str, key: &str, source: redis::RedisError) -> StreamError {
        RedisError::of_command(command, key, source).into()
    }

    /// [`RedisError::command`], as the connector's error.
    pub(crate) fn of_command(command: &'static str, key: &str, source: redis::RedisError) -> RedisError {
        if transient(&source) {
            RedisError::Io { operation: command, source, gave_up: false }
        } else {
            RedisError::Command { command, key: key.to_string(), source }
        }
    }

    /// A command the source's retry policy gave up on: the last failure, naming the
    /// policy when it was a connection problem.
    pub(crate) fn gave_up(command: &'static str, key: &str, source: redis::RedisError) -> StreamError {
        if transient(&source) {
            RedisError::Io { operation: command, source, gave_up: true }.into()
        } else {
            RedisError::command(command, key, source)
        }
    }

    pub(crate) fn reply(operation: &'static str, reply: &redis::Value) -> StreamError {
        let mut text = format!("{reply:?}");
        text.truncate(200);
        RedisError::Reply { operation, reply: text }.into()
    }
}

/// A failure of the connection rather than of the command: worth retrying. Read
/// from the client's error kind, never from message text.
pub(crate) fn transient(e: &redis::RedisError) -> bool {
    e.is_io_error() || e.is_connection_dropped() || e.is_connection_refusal() || e.is_timeout() || e.is_cluster_error()
}

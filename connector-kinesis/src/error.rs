//! The connector's errors (wrapped in `StreamError::Connector` at the API boundary).

use stream_core::StreamError;

/// What can go wrong reading from or writing to Kinesis.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KinesisError {
    /// A request was rejected in a way retrying cannot mend.
    #[error("Kinesis rejected {operation} on `{stream}` ({code}): {message}")]
    Rejected {
        /// The stream.
        stream: String,
        /// The API call.
        operation: &'static str,
        /// Kinesis's error code.
        code: String,
        /// Kinesis's message.
        message: String,
    },

    /// Reading a shard kept failing on the way (timeouts, connection errors).
    #[error(
        "reading shard {shard} of `{stream}` failed for {seconds} s, the limit of the source's retry policy: \
         {message} (check the endpoint and the network to it, or retry for longer)"
    )]
    Unreachable {
        /// The stream.
        stream: String,
        /// The shard.
        shard: String,
        /// How long it was retried.
        seconds: u64,
        /// The last failure.
        message: String,
    },
}

impl From<KinesisError> for StreamError {
    fn from(error: KinesisError) -> Self {
        StreamError::connector(error)
    }
}

//! The connector's errors (wrapped in `StreamError::Connector` at the API boundary).

use stream_core::StreamError;

/// What can go wrong writing to Firehose.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FirehoseError {
    /// A request was rejected in a way retrying cannot mend.
    #[error("Firehose rejected a write to `{stream}` ({code}): {message}")]
    Rejected {
        /// The delivery stream.
        stream: String,
        /// Firehose's error code.
        code: String,
        /// Firehose's message.
        message: String,
    },
}

impl From<FirehoseError> for StreamError {
    fn from(error: FirehoseError) -> Self {
        StreamError::connector(error)
    }
}

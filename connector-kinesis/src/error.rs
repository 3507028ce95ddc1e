//! The connector's errors (wrapped in `StreamError::Connector` at the API boundary).

use aws_config::SdkConfig;
use connector_base::aws;
use stream_core::StreamError;

/// What can go wrong reading from or writing to Kinesis.
#[derive(Debug, thiserror::Error)]
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
    #[error("reading shard {shard} of `{stream}` failed for {seconds} s: {message}")]
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

/// What a Kinesis stream is called in errors.
pub(crate) const KINESIS_STREAM: &str = "Kinesis stream";

/// The check the source and the sink make at start: the stream exists and `sdk`
/// reaches it; the error names the stream and the endpoint.
pub(crate) async fn check_stream(sdk: &SdkConfig, stream: &str) -> stream_core::Result<()> {
    let client = aws_sdk_kinesis::Client::new(sdk);
    let describe = client.describe_stream_summary().stream_name(stream).send();
    aws::check_exists(KINESIS_STREAM, stream, sdk, describe).await
}

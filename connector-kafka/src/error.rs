//! The connector's errors (wrapped in `StreamError::Connector` at the API boundary).

use stream_core::StreamError;

/// What can go wrong talking to Kafka.
#[derive(Debug, thiserror::Error)]
pub enum KafkaError {
    /// A client call failed.
    #[error(
        "kafka {operation} failed: {message} (check `bootstrap.servers`, that the broker runs, and the client properties)"
    )]
    Client {
        /// What was attempted (metadata, assign, poll, commit, ...).
        operation: &'static str,
        /// librdkafka's message.
        message: String,
    },

    /// A topic given by name does not exist.
    #[error("topic `{0}` does not exist on the cluster (create it first, or check its name)")]
    UnknownTopic(String),
}

impl KafkaError {
    pub(crate) fn client(operation: &'static str, error: impl std::fmt::Display) -> StreamError {
        StreamError::connector(KafkaError::Client { operation, message: error.to_string() })
    }
}

impl From<KafkaError> for StreamError {
    fn from(error: KafkaError) -> Self {
        StreamError::connector(error)
    }
}

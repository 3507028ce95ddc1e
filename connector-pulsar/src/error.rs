//! The connector's errors (wrapped in `StreamError::Connector` at the API boundary).

use stream_core::StreamError;

/// What can go wrong talking to Pulsar.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PulsarError {
    /// The client could not connect to the service URL.
    #[error("cannot connect to Pulsar at {url}: {source} (check the URL and that the broker runs)")]
    Connect {
        /// The service URL (passwords redacted).
        url: String,
        /// The client's error.
        #[source]
        source: pulsar::Error,
    },

    /// A producer could not be created for a topic.
    #[error(
        "cannot create a producer for topic {topic}: {source} (check that the topic exists or the broker creates topics)"
    )]
    Producer {
        /// The topic.
        topic: String,
        /// The client's error.
        #[source]
        source: pulsar::Error,
    },

    /// A topic's partitions could not be looked up.
    #[error("cannot look up the partitions of topic {topic}: {source} (check that the topic exists)")]
    Lookup {
        /// The topic.
        topic: String,
        /// The client's error.
        #[source]
        source: pulsar::Error,
    },

    /// A partition could not be subscribed to or read.
    #[error("cannot read {topic} through subscription {subscription}: {reason}")]
    Read {
        /// The partition's topic.
        topic: String,
        /// The subscription.
        subscription: String,
        /// What happened.
        reason: String,
    },

    /// A message was not stored by the broker.
    #[error("sending to topic {topic} failed: {reason}")]
    Send {
        /// The topic.
        topic: String,
        /// What the client or the broker said.
        reason: String,
    },

    /// A record could not be serialized.
    #[error("cannot serialize a record for topic {topic}: {source}")]
    Serialize {
        /// The topic.
        topic: String,
        /// What the schema said.
        #[source]
        source: connector_base::schema::SchemaError,
    },
}

impl From<PulsarError> for StreamError {
    fn from(e: PulsarError) -> Self {
        StreamError::connector(e)
    }
}

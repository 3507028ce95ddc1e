//! The connector's errors (wrapped in `StreamError::Connector` at the API boundary).

use stream_core::StreamError;

/// What can go wrong talking to Pub/Sub.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PubSubError {
    /// A client could not be made.
    #[error("cannot make the Pub/Sub {client} client for {endpoint}: {message}")]
    Client {
        /// Subscriber, publisher or admin.
        client: &'static str,
        /// Where it points (the emulator's address, or the service).
        endpoint: String,
        /// The client's message.
        message: String,
    },

    /// The service refused the subscription lookup; its error is the source.
    #[error("Pub/Sub subscription `{subscription}`: {source} (create it first, or check the project and its name)")]
    Lookup {
        /// Its full name.
        subscription: String,
        /// The client's error.
        #[source]
        source: google_cloud_gax::error::Error,
    },

    /// The subscription does not exist, or cannot be read.
    #[error("Pub/Sub subscription `{subscription}`: {message} (create it first, or check the project and its name)")]
    Subscription {
        /// Its full name.
        subscription: String,
        /// What the service said.
        message: String,
    },

    /// Exactly-once was asked of a subscription without exactly-once delivery.
    #[error(
        "Pub/Sub subscription `{0}` does not have exactly-once delivery enabled: without it an ack is best-effort and \
         a message can come again after any window the source keeps; enable it on the subscription, or use \
         at-least-once"
    )]
    NotExactlyOnce(String),

    /// Receiving messages failed for good.
    #[error("Pub/Sub subscription `{subscription}`: receiving failed: {message}")]
    Receive {
        /// Its full name.
        subscription: String,
        /// The client's message.
        message: String,
    },

    /// A publish was refused in a way retrying cannot mend.
    #[error("Pub/Sub topic `{topic}` refused a message: {message}{hint}")]
    Refused {
        /// The topic's full name.
        topic: String,
        /// The service's message.
        message: String,
        /// What to do.
        hint: &'static str,
    },

    /// A record made a message over Pub/Sub's size limit.
    #[error(
        "Pub/Sub topic `{topic}`: a message of {size} bytes is over Pub/Sub's limit of {limit} bytes (payload, \
         attributes and ordering key); store large payloads elsewhere and publish a reference"
    )]
    TooLarge {
        /// The topic's full name.
        topic: String,
        /// The message's size.
        size: usize,
        /// Pub/Sub's limit.
        limit: usize,
    },

    /// Publishing kept failing for longer than the sink's `publish_timeout`.
    #[error("Pub/Sub topic `{topic}`: publishing kept failing for {timeout:?} (publish_timeout): {message}")]
    PublishTimedOut {
        /// The topic's full name.
        topic: String,
        /// The sink's `publish_timeout`.
        timeout: std::time::Duration,
        /// The last failure.
        message: String,
    },
}

impl From<PubSubError> for StreamError {
    fn from(e: PubSubError) -> Self {
        StreamError::connector(e)
    }
}

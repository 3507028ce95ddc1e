//! The connector's errors (wrapped in `StreamError::Connector` at the API boundary).

use stream_core::StreamError;

/// What can go wrong talking to RabbitMQ.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RabbitMqError {
    /// No connection could be made within the connect timeout.
    #[error(
        "cannot connect to rabbitmq at {endpoint} within connect_timeout ({timeout:?}): {message} (check the URL, \
         that the broker runs and the network to it, and the credentials; or raise connect_timeout)"
    )]
    Connect {
        /// The endpoint, password redacted.
        endpoint: String,
        /// The connect timeout.
        timeout: std::time::Duration,
        /// The client's message.
        message: String,
    },

    /// A client call failed; lapin's error is the source.
    #[error("rabbitmq {operation} failed: {source}")]
    Client {
        /// What was attempted (declare, consume, publish, ack, ...).
        operation: String,
        /// lapin's error (downcast it to `lapin::Error` for its kind).
        #[source]
        source: lapin::Error,
    },

    /// A channel operation failed without an error of the client's.
    #[error("rabbitmq {operation} failed: {message}")]
    Channel {
        /// What was attempted (declare, consume, publish, ack, ...).
        operation: String,
        /// The client's or broker's message.
        message: String,
    },

    /// Exactly-once: the queue kept other consumers.
    #[error(
        "rabbitmq queue `{queue}` still has {consumers} other consumer(s) after {waited:?}: the exactly-once \
         source must be the queue's only consumer, and must wait for the connection of an earlier run to close \
         (its messages are requeued then); stop the other consumers, or raise connect_timeout"
    )]
    OtherConsumers {
        /// The queue.
        queue: String,
        /// How many consumers it has.
        consumers: u32,
        /// How long the source waited.
        waited: std::time::Duration,
    },

    /// The broker did not take a published message.
    #[error("rabbitmq {what} a message published to exchange `{exchange}` with routing key `{routing_key}`{detail}")]
    NotDelivered {
        /// `nacked` or `returned (unroutable)`.
        what: &'static str,
        /// Exchange.
        exchange: String,
        /// Routing key.
        routing_key: String,
        /// More about it.
        detail: String,
    },
}

impl From<RabbitMqError> for StreamError {
    fn from(error: RabbitMqError) -> Self {
        StreamError::connector(error)
    }
}

impl RabbitMqError {
    pub(crate) fn channel(operation: impl Into<String>, message: impl Into<String>) -> StreamError {
        RabbitMqError::Channel { operation: operation.into(), message: message.into() }.into()
    }

    /// A failed client call; the broker's refusals no restart changes (403 access
    /// refused, 404 not found, 530 not allowed) fail the job at once.
    pub(crate) fn client(operation: impl Into<String>, source: lapin::Error) -> StreamError {
        let refused =
            matches!(source.kind(), lapin::ErrorKind::ProtocolError(amqp) if matches!(amqp.get_id(), 403 | 404 | 530));
        let error = RabbitMqError::Client { operation: operation.into(), source };
        if refused { StreamError::permanent(error) } else { error.into() }
    }
}

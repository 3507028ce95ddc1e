//! The connector's errors (wrapped in `StreamError::Connector` at the API boundary).

use stream_core::StreamError;

/// What can go wrong talking to Kafka.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KafkaError {
    /// A client call failed; the client's error is the source (downcast it to
    /// `rdkafka::error::KafkaError` for its code).
    #[error(
        "kafka {operation} failed: {source}{} (check `bootstrap.servers`, that the broker runs, and the client \
         properties)",
        report.as_deref().map(|r| format!("; librdkafka last reported: {r}")).unwrap_or_default()
    )]
    Client {
        /// What was attempted (metadata, assign, poll, commit, ...).
        operation: &'static str,
        /// librdkafka's error.
        #[source]
        source: rdkafka::error::KafkaError,
        /// What librdkafka last reported about the connection (a failed TLS
        /// handshake or authentication, say), when known.
        report: Option<String>,
    },

    /// Something other than a client call failed on the way (a record that does not
    /// serialize, a checkpoint's corrupt state, an answer that never came).
    #[error("kafka {operation} failed: {message}")]
    Failed {
        /// What was attempted.
        operation: &'static str,
        /// What went wrong.
        message: String,
    },

    /// Every transactional id of a subtask's pool holds a transaction still waiting
    /// for its checkpoint to complete.
    #[error(
        "kafka sink subtask {subtask}: {pending} pre-committed transactions still wait for their commit after 30 s, \
         and the pool of {pool} transactional ids has no free one; checkpoints keep failing (see the errors before \
         this one), or raise `transactional_id_pool_size`"
    )]
    TransactionPoolExhausted {
        /// The writer's subtask.
        subtask: usize,
        /// Its transactions pre-committed and not yet committed.
        pending: usize,
        /// The pool size.
        pool: u64,
    },

    /// An aborted transaction of a completed checkpoint must be written again, and one
    /// of its records can no longer be read back from where it landed.
    #[error(
        "kafka sink: transaction `{id}` of a completed checkpoint was aborted, and its record at {topic}/{partition} \
         offset {offset} cannot be read back to write it again: {reason}. Either retention or compaction removed it \
         before the job restarted (keep records longer than a restart takes, or set `records_in_checkpoint(true)`, \
         needed for compacted topics), or the broker lost records it had acknowledged (an unclean leader election, \
         or a broker restarted without its data, with acks or replication too weak; records_in_checkpoint(true) \
         also covers that)"
    )]
    RecordGone {
        /// The transactional id.
        id: String,
        /// The topic the record was written to.
        topic: String,
        /// Its partition.
        partition: i32,
        /// Its offset.
        offset: i64,
        /// What the read found instead.
        reason: String,
    },

    /// A call of the exactly-once sink's transactions (initialise, commit, marker
    /// topic, recovery) got no answer in time.
    #[error(
        "kafka sink: {operation} got no answer within {timeout:?} (transaction_call_timeout): {message}; check the \
         brokers and the network to them, or raise transaction_call_timeout"
    )]
    CallTimedOut {
        /// The call.
        operation: &'static str,
        /// The sink's `transaction_call_timeout`.
        timeout: std::time::Duration,
        /// librdkafka's message.
        message: String,
    },

    /// A topic given by name does not exist.
    #[error("topic `{0}` does not exist on the cluster (create it first, or check its name)")]
    UnknownTopic(String),

    /// The brokers stayed unreachable longer than the source waits for librdkafka
    /// to reconnect.
    #[error(
        "kafka source: reconnect_timeout: no broker answered for {timeout:?} (last error: {last}); check that the \
         brokers run and the network between, or raise reconnect_timeout"
    )]
    Unreachable {
        /// The source's `reconnect_timeout`.
        timeout: std::time::Duration,
        /// The last transient error librdkafka reported.
        last: String,
    },
}

/// An error librdkafka recovers from by itself (it reconnects, finds the new leader
/// or coordinator): waited out within the connector's timeout, not failed on.
pub(crate) fn transient(error: &rdkafka::error::KafkaError) -> bool {
    use rdkafka::types::RDKafkaErrorCode as Code;
    matches!(
        error.rdkafka_error_code(),
        Some(
            Code::AllBrokersDown
                | Code::BrokerTransportFailure
                | Code::Resolve
                | Code::OperationTimedOut
                | Code::TimedOutQueue
                | Code::RequestTimedOut
                | Code::NetworkException
                | Code::BrokerNotAvailable
                | Code::LeaderNotAvailable
                | Code::NotLeaderForPartition
                | Code::CoordinatorLoadInProgress
                | Code::CoordinatorNotAvailable
                | Code::NotCoordinator
                | Code::KafkaStorageError
                | Code::FetchSessionIdNotFound
                | Code::FencedLeaderEpoch
                | Code::UnknownLeaderEpoch
        )
    ) && !matches!(error, rdkafka::error::KafkaError::MessageConsumptionFatal(_))
}

impl KafkaError {
    pub(crate) fn client(operation: &'static str, source: rdkafka::error::KafkaError) -> StreamError {
        StreamError::connector(KafkaError::Client { operation, source, report: None })
    }

    /// A failed client call, with what the client's context last heard from librdkafka.
    pub(crate) fn client_reported(
        operation: &'static str,
        source: rdkafka::error::KafkaError,
        report: Option<String>,
    ) -> StreamError {
        StreamError::connector(KafkaError::Client { operation, source, report })
    }

    /// A failure that is not the client's (see [`KafkaError::Failed`]).
    pub(crate) fn failed(operation: &'static str, message: impl std::fmt::Display) -> StreamError {
        StreamError::connector(KafkaError::Failed { operation, message: message.to_string() })
    }
}

impl From<KafkaError> for StreamError {
    fn from(error: KafkaError) -> Self {
        StreamError::connector(error)
    }
}

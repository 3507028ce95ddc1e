//! The connector's errors (wrapped in `StreamError::Connector` at the API boundary).

use stream_core::StreamError;

/// What can go wrong talking to Cassandra.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CassandraError {
    /// No session could be made with the contact points.
    #[error(
        "cannot connect to Cassandra at {contact_points}: {source} (check the contact points and that a node answers)"
    )]
    Connect {
        /// The contact points, joined.
        contact_points: String,
        /// The driver's error.
        #[source]
        source: scylla::errors::NewSessionError,
    },

    /// The statement could not be prepared (an unknown keyspace, table or column, a
    /// syntax error).
    #[error("cannot prepare `{statement}`: {source}")]
    Prepare {
        /// The CQL statement.
        statement: String,
        /// The driver's error.
        #[source]
        source: scylla::errors::PrepareError,
    },

    /// A record's values do not fit the statement's bind markers.
    #[error("a record does not fit `{statement}`: {source}")]
    Bind {
        /// The CQL statement.
        statement: String,
        /// The driver's error.
        #[source]
        source: scylla::errors::SerializationError,
    },

    /// A query of the source failed for good.
    #[error("reading with `{query}` failed: {source}")]
    Query {
        /// The CQL query.
        query: String,
        /// The driver's error.
        #[source]
        source: scylla::errors::ExecutionError,
    },

    /// A write failed for good (or kept failing past `retry_timeout`).
    #[error("writing with `{statement}` failed: {source}")]
    Write {
        /// The CQL statement.
        statement: String,
        /// The driver's last error.
        #[source]
        source: scylla::errors::ExecutionError,
    },

    /// An idempotent write kept failing in ways that may pass for longer than the
    /// sink's `retry_timeout`.
    #[error("writing with `{statement}` kept failing for {timeout:?} (retry_timeout): {source}")]
    RetriesExhausted {
        /// The CQL statement.
        statement: String,
        /// The sink's `retry_timeout`.
        timeout: std::time::Duration,
        /// The driver's last error.
        #[source]
        source: scylla::errors::ExecutionError,
    },

    /// The write-ahead mode's progress table could not be created, read or written.
    #[error(
        "the write-ahead progress failed at `{statement}`: {source} (check the keyspace exists or give its replication)"
    )]
    WriteAhead {
        /// What was run.
        statement: String,
        /// The driver's error.
        #[source]
        source: scylla::errors::ExecutionError,
    },

    /// An answer could not be read, or state could not be decoded.
    #[error("cannot read from Cassandra: {0}")]
    Read(String),
}

impl From<CassandraError> for StreamError {
    fn from(e: CassandraError) -> Self {
        StreamError::connector(e)
    }
}

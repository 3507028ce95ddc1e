//! The error type of connector-base.

use stream_core::StreamError;

/// What the shared connector machinery reports.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BaseError {
    /// A record is larger than `max_record_size_in_bytes`.
    #[error("record of {size} bytes exceeds max_record_size_in_bytes = {limit}; raise the limit or split the record")]
    RecordTooLarge {
        /// Size of the record's request entry.
        size: usize,
        /// The configured limit.
        limit: usize,
    },
    /// The destination rejected a request in a way retrying cannot fix.
    #[error("request failed and is not retryable: {0}")]
    Fatal(String),
    /// The destination rejected a request in a way retrying cannot fix; the
    /// connector's error (and the client's under it) is the source.
    #[error("request failed and is not retryable: {0}")]
    Rejected(#[source] StreamError),
    /// Entries were not written within the request timeout, retries included (with
    /// `fail_on_timeout`).
    #[error(
        "request_timeout: entries not written within {0:?}, retries included (check the server and the network \
         between, or raise request_timeout)"
    )]
    RequestTimeout(std::time::Duration),
    /// A record could not be decoded (the bad-record policy is to fail).
    #[error("bad record at {origin}: {source} (set the bad-record policy to skip or side output to go on)")]
    BadRecord {
        /// Where it came from (topic/partition@offset, file:line, ...).
        origin: String,
        /// Why it is not a record.
        #[source]
        source: crate::schema::SchemaError,
    },
    /// A record could not be encoded by the sink's serialization schema.
    #[error("a record could not be encoded: {source} (the record or the schema must change; a restart cannot help)")]
    Unencodable {
        /// The schema's error.
        #[source]
        source: crate::schema::SchemaError,
    },
    /// What a connector checked at start (a table, a stream) cannot be used.
    #[error("{what} `{name}` cannot be used at {endpoint}: {message} ({hint})")]
    Unusable {
        /// What it is (`DynamoDB table`, `Kinesis stream`, ...).
        what: &'static str,
        /// Its name.
        name: String,
        /// Where the client points (an endpoint or a region).
        endpoint: String,
        /// What the service or the client said.
        message: String,
        /// What to do.
        hint: &'static str,
    },
    /// The writer's background task ended.
    #[error("the async sink writer's background task ended unexpectedly")]
    WriterGone,
}

impl BaseError {
    /// A record the sink's schema cannot encode: an error no restart heals
    /// ([`StreamError::permanent`]), so the job fails at once.
    pub fn unencodable(source: impl Into<crate::schema::SchemaError>) -> StreamError {
        StreamError::permanent(BaseError::Unencodable { source: source.into() })
    }
}

impl From<BaseError> for StreamError {
    fn from(e: BaseError) -> Self {
        StreamError::connector(e)
    }
}

//! The connector's errors (wrapped in `StreamError::Connector` at the API boundary).

use stream_core::StreamError;

/// What can go wrong writing to DynamoDB.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DynamoDbError {
    /// A record could not be turned into an item.
    #[error("cannot convert a record to a DynamoDB item: {0} (records must serialize to a map, such as a struct)")]
    Conversion(String),

    /// A write request was rejected in a way retrying cannot mend.
    #[error("DynamoDB rejected a write to `{table}` ({code}): {message}")]
    Rejected {
        /// The table.
        table: String,
        /// DynamoDB's error code (ValidationException, AccessDeniedException, ...).
        code: String,
        /// DynamoDB's message.
        message: String,
    },
}

impl From<DynamoDbError> for StreamError {
    fn from(error: DynamoDbError) -> Self {
        StreamError::connector(error)
    }
}

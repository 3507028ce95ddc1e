//! The connector's errors (wrapped in `StreamError::Connector` at the API boundary).

use mongodb::error::{Error, ErrorKind, WriteFailure};
use stream_core::StreamError;

/// What can go wrong talking to MongoDB.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MongoError {
    /// The connection string does not parse, or no server answered.
    #[error("cannot connect to MongoDB at {uri}: {source} (check the connection string and that a server answers)")]
    Connect {
        /// The connection string without its password.
        uri: String,
        /// The driver's error.
        #[source]
        source: mongodb::error::Error,
    },

    /// Reading the collection failed.
    #[error("reading {collection} failed: {source}")]
    Read {
        /// `database.collection`.
        collection: String,
        /// The driver's error.
        #[source]
        source: mongodb::error::Error,
    },

    /// The collection cannot be read as asked (it is missing, or its `_id`s cannot be
    /// split).
    #[error("cannot read {collection}: {reason}")]
    Source {
        /// `database.collection`.
        collection: String,
        /// Why, and what to do.
        reason: String,
    },

    /// A record could not be made into a document.
    #[error("a record is not a MongoDB document: {0}")]
    Encode(String),

    /// Writing failed in a way retrying cannot mend (credentials, a bad command).
    #[error("writing to {collection} failed: {source}")]
    Write {
        /// `database.collection`.
        collection: String,
        /// The driver's error.
        #[source]
        source: Box<mongodb::error::Error>,
    },

    /// The server refused a document for good.
    #[error("MongoDB refused a write to {collection} (_id {id}): code {code}: {message}")]
    Rejected {
        /// `database.collection`.
        collection: String,
        /// The document's `_id`, as extended JSON (or `none`).
        id: String,
        /// The server's error code.
        code: i32,
        /// The server's message.
        message: String,
    },
}

impl From<MongoError> for StreamError {
    fn from(e: MongoError) -> Self {
        StreamError::connector(e)
    }
}

/// Server error codes after which the same write may succeed (a primary stepping
/// down, a node shutting down, a time limit, a write conflict).
pub(crate) const TRANSIENT_CODES: &[i32] =
    &[6, 7, 50, 89, 91, 112, 189, 262, 9001, 10107, 11600, 11602, 13435, 13436, 16500];

/// Whether the whole operation may succeed if sent again: network and server
/// selection errors, retryable labels, transient codes, write concern errors.
pub(crate) fn transient(error: &Error) -> bool {
    if error.contains_label("RetryableWriteError") || error.contains_label("TransientTransactionError") {
        return true;
    }
    match error.kind.as_ref() {
        ErrorKind::Io(_) | ErrorKind::ServerSelection { .. } | ErrorKind::ConnectionPoolCleared { .. } => true,
        ErrorKind::Command(command) => TRANSIENT_CODES.contains(&command.code),
        ErrorKind::Write(WriteFailure::WriteConcernError(_)) => true,
        _ => false,
    }
}

/// The server's code for a cursor it no longer has (timed out, or the server
/// restarted).
const CURSOR_NOT_FOUND: i32 = 43;

/// Whether reading again (with a new cursor after the position) may get on: a
/// transient error, or a lost cursor.
pub(crate) fn worth_reading_again(error: &mongodb::error::Error) -> bool {
    let lost = matches!(error.kind.as_ref(), ErrorKind::Command(c) if c.code == CURSOR_NOT_FOUND);
    lost || transient(error)
}

//! The connector's errors (wrapped in `StreamError::Connector` at the API boundary).

use stream_core::StreamError;

/// What can go wrong talking to MongoDB.
#[derive(Debug, thiserror::Error)]
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

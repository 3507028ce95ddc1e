//! The connector's own errors (wrapped in `StreamError::Connector` at the API boundary).

use stream_core::StreamError;

/// What can go wrong in the file connector beyond plain file I/O.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FileError {
    /// A request to the object store failed.
    #[error(
        "object store {operation} of `{location}` failed: {message} \
         (check the bucket, endpoint, region and credentials)"
    )]
    ObjectStore {
        /// What was attempted (list, read, upload part, complete upload, ...).
        operation: &'static str,
        /// The object key or prefix.
        location: String,
        /// The store's error, credentials never included.
        message: String,
    },

    /// A committable's data is gone: neither pending nor finished.
    #[error("part file `{0}` is neither pending nor finished: its data is lost (was it deleted by hand?)")]
    PendingLost(String),

    /// An in-progress part a checkpoint holds is gone, so the job cannot resume it.
    #[error(
        "in-progress part file `{0}` that the restored checkpoint holds is gone: its records up to that \
         checkpoint are lost (was it deleted, or is an older checkpoint restored after a newer one committed it?)"
    )]
    InProgressLost(String),

    /// A record could not be encoded by the sink's format.
    #[error("record could not be encoded for `{location}`: {source}")]
    Encode {
        /// The part file being written.
        location: String,
        /// The encoder's error.
        #[source]
        source: connector_base::schema::SchemaError,
    },
}

impl From<FileError> for StreamError {
    fn from(error: FileError) -> Self {
        StreamError::connector(error)
    }
}

//! Bulk formats: a part is one encoded document (Parquet), finished only when the
//! part closes, so bulk parts roll on every checkpoint and at no other time.

use connector_base::schema::SchemaError;

/// Creates one [`BulkWriter`] per part file.
pub trait BulkFormat<T>: Send + Sync + 'static {
    /// File name extension of the part files (`parquet`).
    fn extension(&self) -> &'static str;

    /// A writer for a new part.
    fn create_writer(&self) -> Result<Box<dyn BulkWriter<T>>, SchemaError>;
}

/// Encodes the records of one part. Encoded bytes are appended to `out` as they
/// become final; the sink sends them to the part's output.
pub trait BulkWriter<T>: Send {
    /// Add `record`.
    fn write(&mut self, record: &T, out: &mut Vec<u8>) -> Result<(), SchemaError>;

    /// Encode what is buffered and the format's footer.
    fn finish(self: Box<Self>, out: &mut Vec<u8>) -> Result<(), SchemaError>;
}

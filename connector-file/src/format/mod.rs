//! How records are read from and written to files: line formats for the source, row
//! encoders and bulk formats (Parquet) for the sink.

mod bulk;
mod lines;
#[cfg(feature = "parquet")]
mod parquet;
mod rows;

use std::sync::Arc;

pub use bulk::{BulkFormat, BulkWriter};
pub(crate) use lines::SharedFormat;
pub use lines::{Csv, JsonLines, LineFormat, TextLines};
#[cfg(feature = "parquet")]
pub use parquet::ParquetFormat;
pub use rows::{CsvEncoder, JsonLinesEncoder, LineEncoder, RowEncoder};

/// How records become bytes: one line each, or a bulk format per part.
pub(crate) enum PartFormat<T> {
    Rows(Arc<dyn RowEncoder<T>>),
    Bulk(Arc<dyn BulkFormat<T>>),
}

impl<T> Clone for PartFormat<T> {
    fn clone(&self) -> Self {
        match self {
            PartFormat::Rows(e) => PartFormat::Rows(e.clone()),
            PartFormat::Bulk(f) => PartFormat::Bulk(f.clone()),
        }
    }
}

impl<T: 'static> PartFormat<T> {
    pub(crate) fn extension(&self) -> &'static str {
        match self {
            PartFormat::Rows(e) => e.extension(),
            PartFormat::Bulk(f) => f.extension(),
        }
    }
}

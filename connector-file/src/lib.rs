#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod config;
mod error;
mod format;
mod listing;
mod location;
#[cfg(feature = "s3")]
mod object;
pub mod sink;
pub mod source;

pub use config::{BucketAssigner, FileSink, FileSinkBuilder, FileSource, FileSourceBuilder, RollingPolicy};
pub use error::FileError;
#[cfg(feature = "parquet")]
pub use format::ParquetFormat;
pub use format::{
    BulkFormat, BulkWriter, Csv, CsvEncoder, JsonLines, JsonLinesEncoder, LineEncoder, LineFormat, RowEncoder,
    TextLines,
};
pub use location::Location;
#[cfg(feature = "s3")]
pub use object::ObjectLocation;

/// The `object_store` crate this connector is built with (feature `s3`): build an
/// `object_store::aws::AmazonS3` with it and pass it to [`Location::object_store`].
#[cfg(feature = "s3")]
pub use object_store;

/// Arrow schemas for [`ParquetFormat`] (feature `parquet`).
#[cfg(feature = "parquet")]
pub use arrow_schema;

/// Parquet writer properties for [`ParquetFormat::properties`] (feature `parquet`).
#[cfg(feature = "parquet")]
pub use parquet;

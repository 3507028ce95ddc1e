#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod config;
mod error;
mod format;
mod location;
#[cfg(feature = "s3")]
mod object;
pub mod sink;
pub mod source;

pub use config::{FileSource, FileSourceBuilder};
pub use error::FileError;
pub use format::{Csv, JsonLines, LineFormat, TextLines};
pub use location::Location;
#[cfg(feature = "s3")]
pub use object::ObjectLocation;
#[cfg(feature = "parquet")]
pub use sink::ParquetFormat;
pub use sink::{
    BucketAssigner, BulkFormat, BulkWriter, CsvEncoder, FileSink, FileSinkBuilder, JsonLinesEncoder, LineEncoder,
    RollingPolicy, RowEncoder,
};

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

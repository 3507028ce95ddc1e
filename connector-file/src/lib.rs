#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod config;
mod format;
pub mod sink;
pub mod source;

pub use config::{FileSource, FileSourceBuilder};
pub use format::{Csv, JsonLines, LineFormat, TextLines};
pub use sink::{
    BucketAssigner, CsvEncoder, FileSink, FileSinkBuilder, JsonLinesEncoder, LineEncoder, RollingPolicy, RowEncoder,
};

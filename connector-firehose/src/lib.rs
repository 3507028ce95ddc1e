#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod config;
mod error;
mod record;
pub mod sink;

pub use config::{FirehoseSink, FirehoseSinkBuilder, FirehoseStream};
pub use error::FirehoseError;
pub use record::FirehoseRecord;

/// The AWS SDK crates this connector is built with.
pub use {aws_config, aws_sdk_firehose};

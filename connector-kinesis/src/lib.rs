#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod config;
mod error;
pub mod sink;
pub mod source;
mod stream;

pub use config::{
    KinesisStreamTarget, KinesisStreamsSink, KinesisStreamsSinkBuilder, KinesisStreamsSource,
    KinesisStreamsSourceBuilder, StartingPosition,
};
pub use error::KinesisError;
pub use sink::KinesisEntry;
pub use source::KinesisRecord;

/// The AWS SDK crates this connector is built with.
pub use {aws_config, aws_sdk_kinesis};

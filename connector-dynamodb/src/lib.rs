#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

pub mod attribute;
mod config;
mod error;
mod request;
pub mod sink;

pub use attribute::{Attr, Item};
pub use config::{DynamoDbSink, DynamoDbSinkBuilder, DynamoDbTable};
pub use error::DynamoDbError;
pub use request::DynamoDbWriteRequest;

/// The AWS SDK crates this connector is built with.
pub use {aws_config, aws_sdk_dynamodb};

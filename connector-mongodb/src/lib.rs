#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod config;
mod connection;
mod error;
mod model;
mod sink;
mod source;

pub use config::{MongoCollection, MongoSink, MongoSinkBuilder, MongoSource, MongoSourceBuilder, SplitStrategy};
pub use connection::MongoConnection;
pub use error::MongoError;
pub use model::MongoWrite;
/// The driver the connector is built on (and its `bson`).
pub use mongodb;
pub use sink::MongoClient;
pub use source::{IdRangeFetcher, IdRangeSplit, IdValue};

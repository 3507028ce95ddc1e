#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod config;
mod connection;
mod error;
mod model;
mod sink;

pub use config::{MongoCollection, MongoSink, MongoSinkBuilder};
pub use connection::MongoConnection;
pub use error::MongoError;
pub use model::MongoWrite;
/// The driver the connector is built on (and its `bson`).
pub use mongodb;
pub use sink::MongoClient;

#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

pub mod command;
mod config;
mod connection;
mod error;
pub mod sink;
pub mod source;

pub use command::{CommandKind, RedisCommand};
pub use config::{ConsumerGroup, RedisSink, RedisSinkBuilder, RedisStreamsSource, RedisStreamsSourceBuilder};
pub use connection::RedisEndpoint;
pub use error::RedisError;
pub use source::{StartPosition, StreamEntry, StreamId};

/// The `redis` crate this connector is built with.
pub use redis;

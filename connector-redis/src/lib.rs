#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

pub mod command;
mod config;
mod connection;
mod error;
pub mod sink;
pub mod source;
mod stream_id;

pub use command::{CommandKind, RedisCommand};
pub use config::{
    ConsumerGroup, RedisSink, RedisSinkBuilder, RedisStreamsSource, RedisStreamsSourceBuilder, RedisTarget,
    StartPosition,
};
pub use connection::RedisEndpoint;
pub use error::RedisError;
pub use source::StreamEntry;
pub use stream_id::StreamId;

/// The `redis` crate this connector is built with.
pub use redis;

//! [`crate::RedisSink`]: at-least-once for every command, exactly-once for idempotent
//! ones (see [`crate::command`]).

mod client;
mod writer;

pub use client::RedisClient;

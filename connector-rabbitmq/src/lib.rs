#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod config;
mod connection;
mod error;
mod message;
pub mod sink;
pub mod source;

pub use config::{
    QueueDeclaration, RabbitMqSink, RabbitMqSinkBuilder, RabbitMqSource, RabbitMqSourceBuilder, ReturnPolicy,
};
pub use error::RabbitMqError;
pub use message::{MessageSerializer, OutgoingMessage, ToQueue};

/// The `lapin` crate this connector is built with.
pub use lapin;

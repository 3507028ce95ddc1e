#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod client;
mod config;
mod error;
mod logging;
mod offsets;
mod record;
pub mod repartition;
mod security;
pub mod sink;
pub mod source;
mod topics;

pub use config::{KafkaSinkBuilder, KafkaSource, KafkaSourceBuilder};
pub use error::KafkaError;
pub use offsets::{OffsetReset, StartingOffsets, StoppingOffsets};
pub use record::{KafkaDeserializer, KafkaRecord, KafkaSerializer, ProducerRecord, ValueOnly, ValueTo};
pub use security::{KafkaSecurity, SaslMechanism, SecurityProtocol};
pub use sink::KafkaSink;

/// The `rdkafka` crate this connector is built with.
pub use rdkafka;

#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod config;
mod connection;
mod error;
mod message;
mod sink;
mod source;

pub use config::{Batching, PubSubSink, PubSubSinkBuilder, PubSubSource, PubSubSourceBuilder};
pub use connection::PubSubEndpoint;
pub use error::PubSubError;
/// The official client the connector is built on.
pub use google_cloud_pubsub;
pub use message::{DataOnly, OutgoingMessage, PubSubDeserializer, ReceivedMessage};
pub use sink::PubSubWriter;
pub use source::{PubSubEnumerator, PubSubEnumeratorState, PubSubReader, SubscriptionSplit};

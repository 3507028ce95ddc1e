#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod client;
mod config;
mod error;
mod position;
mod sink;
mod source;

pub use config::{PulsarSink, PulsarSinkBuilder, PulsarSource, PulsarSourceBuilder, StartCursor, StopCursor};
pub use connector_base::DeliveryGuarantee;
pub use connector_base::schema::BadRecordPolicy;
pub use connector_base::schema::{BytesSchema, JsonSchema, Utf8Schema};
pub use error::PulsarError;
pub use position::Position;
/// The `pulsar` client crate this connector is built on.
pub use pulsar;
pub use sink::PulsarWriter;
pub use source::{PulsarEnumerator, PulsarEnumeratorState, PulsarReader, PulsarSplit, Stop};

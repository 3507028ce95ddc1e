#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

pub mod async_sink;
#[cfg(feature = "aws")]
pub mod aws;
mod datagen;
mod delivery;
mod error;
pub mod hybrid;
pub mod key_range;
pub mod partition_owner;
pub mod per_subtask;
mod redact;
pub mod schema;
pub mod split_reader;
pub mod state_bytes;

pub use datagen::DataGenSource;
pub use delivery::DeliveryGuarantee;
pub use error::BaseError;
pub use hybrid::HybridSource;
pub use redact::redact_url;

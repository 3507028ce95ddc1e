#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod config;
mod error;
mod sink;

pub use config::{OpenSearch, OpenSearchSink, OpenSearchSinkBuilder};
pub use connector_search::{
    Action, Credentials, Emitter, FailurePolicy, Operation, RejectedAction, SearchSinkBuilder, VersionType,
};
pub use error::OpenSearchError;
/// The official client the sink is built on.
pub use opensearch;
pub use sink::OpenSearchTransport;

#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod config;
mod error;
mod sink;

pub use config::{Elasticsearch, ElasticsearchSink, ElasticsearchSinkBuilder};
pub use connector_search::{
    Action, Credentials, Emitter, FailurePolicy, Operation, RejectedAction, SearchSinkBuilder, VersionType,
};
/// The official client the sink is built on.
pub use elasticsearch;
pub use error::ElasticsearchError;
pub use sink::ElasticsearchTransport;

#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod config;
mod error;
mod retry;
mod session;
mod sink;
mod source;
mod statement;

pub use config::{CassandraSink, CassandraSinkBuilder, CassandraSource, CassandraSourceBuilder, WriteAhead};
pub use error::CassandraError;
/// The driver the connector is built on.
pub use scylla;
pub use sink::{CassandraCommittable, CassandraCommitter, CassandraWriter};
pub use source::{TokenRangeFetcher, TokenRangeSplit};

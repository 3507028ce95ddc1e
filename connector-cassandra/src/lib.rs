#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod config;
mod error;
mod session;
mod sink;
mod statement;

pub use config::{CassandraSink, CassandraSinkBuilder};
pub use error::CassandraError;
/// The driver the connector is built on.
pub use scylla;
pub use sink::{CassandraCommittable, CassandraCommitter, CassandraWriter, WriteAhead};

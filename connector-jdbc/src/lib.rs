#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod config;
mod connection;
mod error;
pub mod gid;
mod sink;

pub use config::{JdbcSink, JdbcSinkBuilder, Params};
pub use connection::PgConnection;
pub use connector_base::DeliveryGuarantee;
pub use error::JdbcError;
pub use sink::{JdbcCommitter, JdbcWriter};
pub use tokio_postgres;

#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod config;
mod connection;
mod error;
pub mod gid;
mod sink;
mod source;

pub use config::{JdbcSink, JdbcSinkBuilder, JdbcSource, JdbcSourceBuilder, Params};
pub use connection::PgConnection;
pub use connector_base::DeliveryGuarantee;
pub use connector_base::schema::BadRecordPolicy;
pub use error::JdbcError;
pub use sink::{JdbcCommitter, JdbcWriter};
pub use source::{Key, KeyRangeSplit, KeysetFetcher};
pub use tokio_postgres;

//! The batching, retrying sink writer of every request/response sink (Flink's
//! `AsyncSinkWriter`). A connector supplies an [`AsyncSinkClient`] (entry size and
//! `submit`) and a function from record to request entry; the writer does the rest.

mod actor;
mod client;
mod config;
mod options;
mod rate_limit;
mod writer;

pub use client::{AsyncSinkClient, SubmitResult};
pub use config::{AsyncSinkConfig, AsyncSinkConfigBuilder};
pub use options::{AsyncSinkOptions, ServiceLimits};
pub use writer::AsyncSinkWriter;

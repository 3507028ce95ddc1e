//! The batching, retrying sink of every request/response connector (Flink's
//! `AsyncSinkBase` and `AsyncSinkWriter`). A connector supplies an
//! [`AsyncSinkClient`] (entry size and `submit`) and an [`AsyncSinkTarget`] (connect
//! and check, record to request entry); its sink is `AsyncSink<T, ItsTarget<T>>`.

mod actor;
mod client;
mod config;
mod options;
mod rate_limit;
mod sink;
mod writer;

pub use client::{AsyncSinkClient, SubmitResult};
pub use config::{AsyncSinkConfig, AsyncSinkConfigBuilder};
pub use options::{AsyncSinkOptions, ServiceLimits};
pub use sink::{AsyncSink, AsyncSinkTarget, EntryOf};
pub use writer::AsyncSinkWriter;

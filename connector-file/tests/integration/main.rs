//! The integration tests of `connector-file`, in one test binary: one link and one shared
//! test server per service for the whole crate (nextest still runs each test in a
//! process of its own).

mod common;
mod formats;
mod guarantees;
mod metrics;
mod object_store;
mod parquet;
mod replicas;
mod sink;

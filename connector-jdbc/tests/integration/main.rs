//! The integration tests of `connector-jdbc`, in one test binary: one link and one shared
//! test server per service for the whole crate (nextest still runs each test in a
//! process of its own).

mod bad_input;
mod batching;
mod common;
mod connection;
mod guarantees;
mod network_faults;
mod recovery;
mod server_restart;
mod source;

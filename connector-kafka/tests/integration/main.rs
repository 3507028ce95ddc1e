//! The integration tests of `connector-kafka`, in one test binary: one link and one shared
//! test server per service for the whole crate (nextest still runs each test in a
//! process of its own).

mod broker_restart;
mod common;
mod guarantees;
mod metrics;
mod network_faults;
mod process_kill;
mod recovery;
mod replicas;
mod security;
mod sink;
mod stop_with_savepoint;

//! The integration tests of `connector-rabbitmq`, in one test binary: one link and one shared
//! test server per service for the whole crate (nextest still runs each test in a
//! process of its own).

mod broker_restart;
mod common;
mod guarantees;
mod network_faults;
mod replicas;

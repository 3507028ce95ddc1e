//! The integration tests of `connector-kinesis`, in one test binary: one link and one shared
//! test server per service for the whole crate (nextest still runs each test in a
//! process of its own).

mod common;
mod guarantees;
mod network_faults;
mod network_stalls;
mod replicas;
mod resharding;
mod sink;
mod source;

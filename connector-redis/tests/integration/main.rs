//! The integration tests of `connector-redis`, in one test binary: one link and one shared
//! test server per service for the whole crate (nextest still runs each test in a
//! process of its own).

mod cluster_and_tls;
mod common;
mod guarantees;
mod network_faults;
mod replicas;
mod server_restart;
mod sink;

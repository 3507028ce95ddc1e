//! The integration tests of `connector-testkit`, in one test binary: one link and one shared
//! test server per service for the whole crate (nextest still runs each test in a
//! process of its own).

mod containers;
mod fault_proxy;
mod servers_answer;
mod suites_catch_broken_connectors;

#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

pub mod bench;
pub mod containers;
pub mod discovery;
mod error;
pub mod launch;
mod private_server;
pub mod proxy;
pub mod search;
mod server;
pub mod servers;
pub mod suites;
mod verdict;

pub use discovery::{Server, TestServer};
pub use error::TestkitError;
pub use private_server::PrivateServer;
pub use suites::{
    NetworkSuite, RestartHook, SinkTarget, SourceTarget, SuiteConfig, read_as_replica, run_cut_source_suite,
    run_resume_source_suite, run_sink_suite, run_source_suite, run_unbounded_source_suite,
};
pub use test_servers::process::free_port;
/// Protocol probes of the test servers (Redis `PING`, the AMQP greeting, Kafka
/// `ApiVersions`, S3, DynamoDB, Kinesis).
pub use test_servers::{docker, probe};
pub use verdict::Verdict;

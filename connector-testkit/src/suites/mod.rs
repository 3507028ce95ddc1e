//! The generic guarantee suites a connector runs with a few lines.

mod network;
mod plan;
mod replicas;
mod run;
mod sink;
mod source;

pub use network::NetworkSuite;
pub use plan::{CrashPlan, NetworkPlan, RestartHook, SuiteConfig, UNPLANNED_RESTARTS};
pub use replicas::read_as_replica;
pub use sink::{SinkTarget, run_sink_suite};
pub use source::{
    SourceTarget, run_cut_source_suite, run_resume_source_suite, run_source_suite, run_unbounded_source_suite,
};

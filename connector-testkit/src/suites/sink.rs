//! The sink suite: N records through a job with checkpoints, parallelism > 1 and K
//! crashes at random protocol points, then what landed in the external system is
//! compared with what was sent.

use std::future::Future;
use std::sync::Arc;

use connector_base::DeliveryGuarantee;
use stream_core::api::{Committer, Sink};
use stream_core::prelude::*;

use super::plan::SuiteConfig;
use super::run::run_job;
use crate::error::TestkitError;
use crate::verdict::Verdict;

/// What a connector provides to run the sink suite against its real server.
pub trait SinkTarget: Send + Sync + 'static {
    /// The sink's record type.
    type Record: Send + 'static;
    /// The sink under test.
    type Sink: Sink<Self::Record>;

    /// The guarantee the sink declares in this configuration.
    fn guarantee(&self) -> DeliveryGuarantee;

    /// Whether the sink pre-commits and commits (enables crashes in the commit phase):
    /// exactly-once sinks with a committer. A sink without one (exactly-once through
    /// idempotent writes) never reaches the commit-phase fault points, so a random plan
    /// must not spend its crashes there.
    fn two_phase(&self) -> bool {
        self.guarantee() == DeliveryGuarantee::ExactlyOnce
            && <<Self::Sink as Sink<Self::Record>>::Committer as Committer>::COMMITS
    }

    /// The record carrying test id `id`.
    fn record(&self, id: u64) -> Self::Record;

    /// A sink writing to this target's (fresh) destination.
    fn sink(&self) -> Self::Sink;

    /// Ids of every record visible in the destination now (a read-committed view).
    fn read_back(&self) -> impl Future<Output = Result<Vec<u64>, TestkitError>> + Send;
}

/// Run the sink suite and check the declared guarantee; the verdict is returned
/// either way so that callers can print or further assert it.
pub async fn run_sink_suite<T: SinkTarget>(target: Arc<T>, config: SuiteConfig) -> Result<Verdict, TestkitError> {
    let faults = config.planted("sink suite", "records", "sink", target.two_phase());
    let env = config.env_builder(&faults)?.build()?;
    let source = CollectionSource::sequence(0..config.records).records_per_second(config.records_per_second)?;
    let to_record = target.clone();
    let job = env.from_source(source, "records").map(move |id| to_record.record(id)).sink_to(target.sink(), "sink");
    let outcome = run_job(job, "sink-suite", &config).await?;
    let received = target.read_back().await?;
    let sent: Vec<u64> = (0..config.records).collect();
    let mut verdict = Verdict::compare(&sent, &received, faults.fired().len());
    outcome.fill(&mut verdict);
    eprintln!("sink suite ({}): {verdict}", target.guarantee());
    Ok(verdict)
}

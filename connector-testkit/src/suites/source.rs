//! The source suite: N records put into the system, read by a job with checkpoints,
//! parallelism > 1 and K crashes into an exactly-once collecting sink, and the
//! collected ids compared with the ones put in.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use connector_base::DeliveryGuarantee;
use stream_core::api::Source;
use stream_core::fault::FaultInjector;
use stream_core::prelude::*;

use super::plan::{CrashPlan, SuiteConfig};
use crate::error::TestkitError;
use crate::verdict::Verdict;

/// What a connector provides to run the source suite against its real server.
pub trait SourceTarget: Send + Sync + 'static {
    /// The source under test (bounded, reading what [`SourceTarget::prepare`] wrote).
    type Source: Source;

    /// The guarantee the source declares in this configuration.
    fn guarantee(&self) -> DeliveryGuarantee;

    /// Put records with these ids into the system.
    fn prepare(&self, ids: &[u64]) -> impl Future<Output = Result<(), TestkitError>> + Send;

    /// A bounded source reading them.
    fn source(&self) -> Self::Source;

    /// The test id of a record read.
    fn id_of(&self, record: &<Self::Source as Source>::Output) -> u64;
}

/// Run the source suite; see [`super::run_sink_suite`] for the verdict.
pub async fn run_source_suite<T: SourceTarget>(target: Arc<T>, config: SuiteConfig) -> Result<Verdict, TestkitError> {
    let sent: Vec<u64> = (0..config.records).collect();
    target.prepare(&sent).await?;
    let plan = CrashPlan::random(&config, "source", "collect", true);
    eprintln!("source suite: TEST_SEED={} plan={:?}", config.seed, plan.faults);
    let faults = FaultInjector::new();
    plan.plant(&faults);
    let env = StreamEnvironment::builder()
        .checkpointing(CheckpointConfig::builder().interval(config.checkpoint_interval).build()?)
        .restart_strategy(RestartStrategy::fixed_delay(config.crashes as u32 + 2, Duration::from_millis(10)))
        .parallelism(config.parallelism)
        .batch_size(64)
        .fault_injector(faults.clone())
        .build()?;
    let collect = CollectSink::new();
    let id_of = target.clone();
    env.from_source(target.source(), "source")
        .map(move |record| id_of.id_of(&record))
        .sink_to(collect.clone(), "collect")
        .execute("source-suite")
        .await?;
    let verdict = Verdict::compare(&sent, &collect.committed(), faults.fired().len());
    eprintln!("source suite ({}): {verdict}", target.guarantee());
    Ok(verdict)
}

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
use stream_core::{Job, StreamEnvironmentBuilder};

use super::plan::SuiteConfig;
use super::run::{finish_restart, restart_midway, run_job, wait_for_count};
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

    /// A source reading them: bounded (ends after what was prepared) or unbounded
    /// (keeps reading what is added later).
    fn source(&self, bounded: bool) -> Self::Source;

    /// The test id of a record read.
    fn id_of(&self, record: &<Self::Source as Source>::Output) -> u64;
}

/// Run the source suite; see [`super::run_sink_suite`] for the verdict.
pub async fn run_source_suite<T: SourceTarget>(target: Arc<T>, config: SuiteConfig) -> Result<Verdict, TestkitError> {
    let sent: Vec<u64> = (0..config.records).collect();
    target.prepare(&sent).await?;
    let faults = config.planted("source suite", "source", "collect", true);
    let collect = CollectSink::new();
    let job = collecting_job(&target, config.env_builder(&faults)?, true, &collect)?;
    let outcome = run_job(job, "source-suite", &config).await?;
    let mut verdict = Verdict::compare(&sent, &collect.committed(), faults.fired().len());
    outcome.fill(&mut verdict);
    eprintln!("source suite ({}): {verdict}", target.guarantee());
    Ok(verdict)
}

/// The unbounded source suite: half the records before the job starts, half while it
/// runs (with crashes; with a server restart, the second half once the server is
/// back); the job is cancelled once everything arrived (or after a
/// time limit) and what was collected is compared with what was put in.
pub async fn run_unbounded_source_suite<T: SourceTarget>(
    target: Arc<T>,
    config: SuiteConfig,
) -> Result<Verdict, TestkitError> {
    let sent: Vec<u64> = (0..config.records).collect();
    let (first, second) = sent.split_at(sent.len() / 2);
    target.prepare(first).await?;
    let faults = config.planted("unbounded source suite", "source", "collect", true);
    let collect = CollectSink::new();
    let handle =
        collecting_job(&target, config.env_builder(&faults)?, false, &collect)?.start("unbounded-source-suite");
    let restarting = restart_midway("unbounded-source-suite", &config);
    let (stall, limit) = (config.idle_stall, Duration::from_secs(60));
    // Distinct ids: duplicates (at-least-once) must not end the wait while records
    // are still missing.
    let distinct = || collect.committed().into_iter().collect::<std::collections::HashSet<u64>>().len();
    wait_for_count(distinct, first.len(), stall, limit).await;
    // The second half is written once a server restart is over: the test's own writer
    // re-sends what the server did not confirm, and a write the server stored but
    // could not confirm before it stopped would then be in the input twice (CI once
    // counted 730 such duplicates against an exactly-once RabbitMQ source).
    finish_restart(restarting).await?;
    target.prepare(second).await?;
    wait_for_count(distinct, sent.len(), stall, limit).await;
    handle.cancel_and_join().await?;
    let verdict = Verdict::compare(&sent, &collect.committed(), faults.fired().len());
    eprintln!("unbounded source suite ({}): {verdict}", target.guarantee());
    Ok(verdict)
}

/// The resume suite: the job runs on a checkpoint directory and is cancelled part
/// way (as a person stops a job); a new job on the same directory runs to the end.
/// What the two runs collected together is compared with what was put in.
pub async fn run_resume_source_suite<T: SourceTarget>(
    target: Arc<T>,
    config: SuiteConfig,
) -> Result<Verdict, TestkitError> {
    let sent: Vec<u64> = (0..config.records).collect();
    target.prepare(&sent).await?;
    let dir = std::env::temp_dir().join(format!("testkit-resume-{}-{}", std::process::id(), config.seed));
    let collect = CollectSink::new();
    let job = || {
        let builder = config.env_builder(&FaultInjector::new())?.state_backend(FsStateBackend::new(&dir)?);
        collecting_job(&target, builder, true, &collect)
    };
    let first = job()?.start("resume-suite-first");
    let half = sent.len() / 2;
    wait_for_count(|| collect.committed().len(), half, Duration::from_secs(2), Duration::from_secs(60)).await;
    let stopped = first.cancel_and_join().await?;
    let before = collect.committed().len();
    let second = job()?.execute("resume-suite-second").await?;
    let _ = std::fs::remove_dir_all(&dir);
    eprintln!(
        "resume suite: first run cancelled={} with {before} committed, second run restored checkpoint {}",
        stopped.cancelled, second.metrics.last_checkpoint_id
    );
    let verdict = Verdict::compare(&sent, &collect.committed(), 1);
    eprintln!("resume suite ({}): {verdict}", target.guarantee());
    Ok(verdict)
}

/// The cut suite: `records` put in, then read by a job of parallelism 1 (checkpoints
/// every 100 ms, no restart allowed) whose source connects through `proxy`. Every
/// connection through the proxy is cut 300 ms in (while the source starts or splits)
/// and again each time a quarter of the records has been collected, so each cut lands
/// mid-read. The source must read on by itself: the job has to end within 60 s, and
/// the verdict counts what was lost or read twice; its `crashes` are the connections
/// cut.
pub async fn run_cut_source_suite<T: SourceTarget>(
    target: Arc<T>,
    proxy: &crate::proxy::FaultProxy,
    records: u64,
) -> Result<Verdict, TestkitError> {
    let sent: Vec<u64> = (0..records).collect();
    target.prepare(&sent).await?;
    let checkpoints = CheckpointConfig::builder().interval(Duration::from_millis(100)).build()?;
    let builder =
        StreamEnvironment::builder().parallelism(1).checkpointing(checkpoints).restart_strategy(RestartStrategy::None);
    let collect = CollectSink::new();
    let job = collecting_job(&target, builder, true, &collect)?.start("cut-source-suite");
    tokio::time::sleep(Duration::from_millis(300)).await;
    proxy.cut_all();
    let quarter = sent.len() / 4;
    for reached in [quarter, 2 * quarter, 3 * quarter] {
        wait_for_count(|| collect.committed().len(), reached, Duration::from_secs(10), Duration::from_secs(30)).await;
        proxy.cut_all();
    }
    match tokio::time::timeout(Duration::from_secs(60), job.join()).await {
        Ok(ended) => ended?,
        Err(_) => {
            return Err(TestkitError::Target(format!(
                "the job did not end within 60 s of the cuts ({:?})",
                proxy.stats()
            )));
        }
    };
    let cut = usize::try_from(proxy.stats().cut).unwrap_or(usize::MAX);
    let verdict = Verdict::compare(&sent, &collect.committed(), cut);
    eprintln!("cut source suite ({}): {verdict}", target.guarantee());
    Ok(verdict)
}

/// The suites' job: `target`'s source -> test ids -> an exactly-once collecting sink.
pub(crate) fn collecting_job<T: SourceTarget>(
    target: &Arc<T>,
    builder: StreamEnvironmentBuilder,
    bounded: bool,
    collect: &CollectSink<u64>,
) -> Result<Job, TestkitError> {
    let id_of = target.clone();
    Ok(builder
        .build()?
        .from_source(target.source(bounded), "source")
        .map(move |record| id_of.id_of(&record))
        .sink_to(collect.clone(), "collect"))
}

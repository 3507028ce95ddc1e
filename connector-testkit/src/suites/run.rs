//! Running a suite's job with an optional server restart in the middle.

use std::time::Duration;

use stream_core::Job;
use stream_core::metrics::JobMetrics;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::plan::SuiteConfig;
use crate::error::TestkitError;
use crate::proxy::FaultReport;
use crate::verdict::Verdict;

/// Run `job` to its end; with a restart hook, restart the server a third of the way
/// into the run (the job must survive it with its declared guarantee); with network
/// faults, play them meanwhile. The verdict's restarts and time after the faults are
/// filled in from the run.
pub(crate) async fn run_job(job: Job, name: &str, config: &SuiteConfig) -> Result<RunOutcome, TestkitError> {
    let faults = start_faults(config, job.metrics());
    let handle = job.start(name);
    let restarting = restart_midway(name, config);
    let result = handle.join().await;
    let ended = Instant::now();
    let faults = finish_faults(faults, ended).await;
    let result = result?;
    finish_restart(restarting).await?;
    Ok(RunOutcome { restarts: result.restarts, faults })
}

/// What a suite's run adds to its verdict.
pub(crate) struct RunOutcome {
    pub restarts: u32,
    pub faults: Option<FaultsSeen>,
}

impl RunOutcome {
    pub fn fill(&self, verdict: &mut Verdict) {
        verdict.restarts = self.restarts;
        if let Some(faults) = &self.faults {
            faults.fill(verdict);
        }
    }
}

/// What a run saw of its network faults.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FaultsSeen {
    /// From the proxy's healing to the run's end.
    pub after_faults: Duration,
    /// Checkpoints the job completed while the faults played.
    pub checkpoints_during_faults: u64,
}

impl FaultsSeen {
    pub fn fill(&self, verdict: &mut Verdict) {
        verdict.after_faults = Some(self.after_faults);
        verdict.checkpoints_during_faults = Some(self.checkpoints_during_faults);
    }
}

type FaultsTask = JoinHandle<(FaultReport, u64)>;

/// With a network plan: play its fault on the proxy, from `start_after` on, and
/// count the checkpoints `metrics` shows completed meanwhile.
pub(crate) fn start_faults(config: &SuiteConfig, metrics: JobMetrics) -> Option<FaultsTask> {
    let plan = config.network.clone()?;
    let seed = config.seed;
    Some(tokio::spawn(async move {
        tokio::time::sleep(plan.start_after).await;
        eprintln!("network faults: {} for {:?}", plan.fault, plan.duration);
        let before = metrics.snapshot().checkpoints_completed;
        let report = plan.proxy.play_here(plan.fault, plan.duration, seed).await;
        (report, metrics.snapshot().checkpoints_completed - before)
    }))
}

/// What the faults of a run that ended at `ended` came to (if the run ended while
/// they still played, they are stopped, the proxy healed, and the time after them is
/// zero).
pub(crate) async fn finish_faults(faults: Option<FaultsTask>, ended: Instant) -> Option<FaultsSeen> {
    let faults = faults?;
    if !faults.is_finished() {
        eprintln!("network faults: the run ended before the faults did");
        faults.abort();
        return Some(FaultsSeen { after_faults: Duration::ZERO, checkpoints_during_faults: 0 });
    }
    let (report, checkpoints) = faults.await.ok()?;
    eprintln!("network faults: {} events of {}; {checkpoints} checkpoints meanwhile", report.events, report.fault);
    Some(FaultsSeen {
        after_faults: ended.saturating_duration_since(report.healed_at),
        checkpoints_during_faults: checkpoints,
    })
}

/// With a restart hook: restart the server a third of the way into the run, in the
/// background; `finish_restart` then reports how it went.
pub(crate) fn restart_midway(name: &str, config: &SuiteConfig) -> Option<JoinHandle<Result<(), TestkitError>>> {
    let restart = config.restart_server.clone()?;
    let (wait, name) = (config.expected_duration() / 3, name.to_string());
    Some(tokio::spawn(async move {
        tokio::time::sleep(wait).await;
        eprintln!("{name}: restarting the server mid-run");
        restart().await
    }))
}

/// Wait for a restart started by [`restart_midway`] and return its error, if any.
pub(crate) async fn finish_restart(
    restarting: Option<JoinHandle<Result<(), TestkitError>>>,
) -> Result<(), TestkitError> {
    match restarting {
        Some(task) => task.await.map_err(|e| TestkitError::Target(format!("the server restart task failed: {e}")))?,
        None => Ok(()),
    }
}

/// Wait until the job of `handle` has ended (finished, failed or cancelled).
pub(crate) async fn ended(handle: &stream_core::JobHandle) {
    while !handle.is_finished() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Wait until `count()` reaches `target`, stops growing for `stall`, or `limit`
/// passes; a shortfall is for the verdict to report, not an error here.
pub(crate) async fn wait_for_count(count: impl Fn() -> usize, target: usize, stall: Duration, limit: Duration) {
    let deadline = tokio::time::Instant::now() + limit;
    let (mut last, mut since) = (count(), tokio::time::Instant::now());
    while last < target && tokio::time::Instant::now() < deadline && since.elapsed() < stall {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let now = count();
        if now != last {
            (last, since) = (now, tokio::time::Instant::now());
        }
    }
}

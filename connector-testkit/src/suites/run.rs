//! Running a suite's job with an optional server restart in the middle.

use std::time::Duration;

use stream_core::Job;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::plan::SuiteConfig;
use crate::error::TestkitError;
use crate::proxy::{FaultReport, NetworkFault};
use crate::verdict::Verdict;

/// Run `job` to its end; with a restart hook, restart the server a third of the way
/// into the run (the job must survive it with its declared guarantee); with network
/// faults, play them meanwhile. The verdict's restarts and time after the faults are
/// filled in from the run.
pub(crate) async fn run_job(job: Job, name: &str, config: &SuiteConfig) -> Result<RunOutcome, TestkitError> {
    let handle = job.start(name);
    let restarting = restart_midway(name, config);
    let faults = start_faults(config);
    let result = handle.join().await;
    let ended = Instant::now();
    let after_faults = finish_faults(faults, ended).await;
    let result = result?;
    finish_restart(restarting).await?;
    Ok(RunOutcome { restarts: result.restarts, after_faults })
}

/// What a suite's run adds to its verdict.
pub(crate) struct RunOutcome {
    pub restarts: u32,
    pub after_faults: Option<Duration>,
}

impl RunOutcome {
    pub fn fill(&self, verdict: &mut Verdict) {
        verdict.restarts = self.restarts;
        verdict.after_faults = self.after_faults;
    }
}

/// With a network plan: play its fault on the proxy, from `start_after` on.
pub(crate) fn start_faults(config: &SuiteConfig) -> Option<JoinHandle<FaultReport>> {
    let plan = config.network.clone()?;
    let seed = config.seed;
    Some(tokio::spawn(async move {
        tokio::time::sleep(plan.start_after).await;
        eprintln!("network faults: {} for {:?}", plan.fault, plan.duration);
        plan.proxy.play(plan.fault, plan.duration, seed).await.unwrap_or_else(|_| FaultReport {
            fault: NetworkFault::Latency(Duration::ZERO),
            events: 0,
            healed_at: Instant::now(),
        })
    }))
}

/// How long after the proxy healed the run ended at `ended` (zero if it ended while
/// the faults still played: they are stopped and the proxy healed then).
pub(crate) async fn finish_faults(faults: Option<JoinHandle<FaultReport>>, ended: Instant) -> Option<Duration> {
    let faults = faults?;
    if !faults.is_finished() {
        eprintln!("network faults: the run ended before the faults did");
        faults.abort();
        return Some(Duration::ZERO);
    }
    let report = faults.await.ok()?;
    eprintln!("network faults: {} events of {}", report.events, report.fault);
    Some(ended.saturating_duration_since(report.healed_at))
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

//! Running a suite's job with an optional server restart in the middle.

use std::time::Duration;

use stream_core::{Job, JobResult};
use tokio::task::JoinHandle;

use super::plan::SuiteConfig;
use crate::error::TestkitError;

/// Run `job` to its end; with a restart hook, restart the server a third of the way
/// into the run (the job must survive it with its declared guarantee).
pub(crate) async fn run_job(job: Job, name: &str, config: &SuiteConfig) -> Result<JobResult, TestkitError> {
    let handle = job.start(name);
    let restarting = restart_midway(name, config);
    let result = handle.join().await?;
    finish_restart(restarting).await?;
    Ok(result)
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

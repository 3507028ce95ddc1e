//! Running a suite's job with an optional server restart in the middle.

use std::time::Duration;

use stream_core::{Job, JobResult};

use super::plan::SuiteConfig;
use crate::error::TestkitError;

/// Run `job` to its end; with a restart hook, restart the server a third of the way
/// into the run (the job must survive it with its declared guarantee).
pub(crate) async fn run_job(job: Job, name: &str, config: &SuiteConfig) -> Result<JobResult, TestkitError> {
    let handle = job.start(name);
    if let Some(restart) = &config.restart_server {
        tokio::time::sleep(config.expected_duration() / 3).await;
        eprintln!("{name}: restarting the server mid-run");
        restart().await?;
    }
    Ok(handle.join().await?)
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

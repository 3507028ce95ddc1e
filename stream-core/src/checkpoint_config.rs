//! Checkpointing options, with Flink's names and meaning.

use std::time::Duration;

use crate::error::{Result, StreamError};
use crate::retry::RetryPolicy;

/// How barriers are handled at tasks with several input channels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CheckpointingMode {
    /// Aligned barriers: a channel is blocked after its barrier until every channel
    /// has delivered it. State reflects every record exactly once.
    #[default]
    ExactlyOnce,
    /// No alignment: records that overtake a barrier are included in the snapshot
    /// and replayed after a restore, so they may be counted twice, never lost.
    AtLeastOnce,
}

/// Checkpoint settings of a job. Build with [`CheckpointConfig::builder`].
#[derive(Debug, Clone)]
pub struct CheckpointConfig {
    pub(crate) interval: Option<Duration>,
    pub(crate) mode: CheckpointingMode,
    pub(crate) timeout: Duration,
    pub(crate) max_concurrent: usize,
    pub(crate) min_pause: Duration,
    pub(crate) tolerable_failed: u32,
    pub(crate) commit_retry: RetryPolicy,
}

impl Default for CheckpointConfig {
    /// Periodic checkpoints disabled; the final checkpoint at the end of bounded input
    /// still runs so that sinks commit.
    fn default() -> Self {
        CheckpointConfig {
            interval: None,
            mode: CheckpointingMode::ExactlyOnce,
            timeout: Duration::from_secs(600),
            max_concurrent: 1,
            min_pause: Duration::ZERO,
            tolerable_failed: 0,
            commit_retry: RetryPolicy::exponential(Duration::from_millis(50), Duration::from_secs(1)).max_attempts(3),
        }
    }
}

impl CheckpointConfig {
    /// Start building a configuration with Flink's defaults.
    pub fn builder() -> CheckpointConfigBuilder {
        CheckpointConfigBuilder { config: CheckpointConfig::default() }
    }

    /// Interval between periodic checkpoints (`None`: only the final one).
    pub fn interval(&self) -> Option<Duration> {
        self.interval
    }

    /// Barrier handling mode.
    pub fn mode(&self) -> CheckpointingMode {
        self.mode
    }

    /// Time after which an unfinished checkpoint is aborted.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// How many checkpoints may be in progress at once.
    pub fn max_concurrent(&self) -> usize {
        self.max_concurrent
    }

    /// Minimum time from the end of one checkpoint to the start of the next.
    pub fn min_pause(&self) -> Duration {
        self.min_pause
    }

    /// Consecutive checkpoint failures tolerated before the job fails.
    pub fn tolerable_failed(&self) -> u32 {
        self.tolerable_failed
    }

    /// How a failed commit of a completed checkpoint is retried before the job fails
    /// (and restarts from that checkpoint, committing again).
    pub fn commit_retry(&self) -> &RetryPolicy {
        &self.commit_retry
    }
}

/// Builder for [`CheckpointConfig`]; [`CheckpointConfigBuilder::build`] validates.
#[derive(Debug, Clone)]
pub struct CheckpointConfigBuilder {
    config: CheckpointConfig,
}

impl CheckpointConfigBuilder {
    /// Trigger a checkpoint every `interval` (must be > 0).
    pub fn interval(mut self, interval: Duration) -> Self {
        self.config.interval = Some(interval);
        self
    }

    /// Exactly-once (aligned) or at-least-once (unaligned) barriers.
    pub fn mode(mut self, mode: CheckpointingMode) -> Self {
        self.config.mode = mode;
        self
    }

    /// Abort a checkpoint that is not complete after `timeout` (must be > 0).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.config.timeout = timeout;
        self
    }

    /// At most `n` checkpoints in progress at once (must be >= 1).
    pub fn max_concurrent(mut self, n: usize) -> Self {
        self.config.max_concurrent = n;
        self
    }

    /// Wait at least `pause` after a checkpoint completes before triggering the next.
    pub fn min_pause(mut self, pause: Duration) -> Self {
        self.config.min_pause = pause;
        self
    }

    /// Fail the job when more than `n` checkpoints fail in a row.
    pub fn tolerable_failed_checkpoints(mut self, n: u32) -> Self {
        self.config.tolerable_failed = n;
        self
    }

    /// Retry a failed commit under `policy` before the job fails (default: 3 attempts,
    /// waiting 50 ms, then 100 ms, with jitter). A committer that reaches a flaky
    /// system may want a time window instead (`RetryPolicy::give_up_after`).
    pub fn commit_retry(mut self, policy: RetryPolicy) -> Self {
        self.config.commit_retry = policy;
        self
    }

    /// Validate and build.
    pub fn build(self) -> Result<CheckpointConfig> {
        let c = self.config;
        c.commit_retry.validate("commit_retry")?;
        if c.interval == Some(Duration::ZERO) {
            return Err(StreamError::invalid("interval", "0ms", "the checkpoint interval must be greater than zero"));
        }
        if c.timeout.is_zero() {
            return Err(StreamError::invalid("timeout", "0ms", "the checkpoint timeout must be greater than zero"));
        }
        if c.max_concurrent == 0 {
            return Err(StreamError::invalid(
                "max_concurrent",
                0,
                "at least one checkpoint must be allowed in progress",
            ));
        }
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_zero_interval_naming_it() {
        let err = CheckpointConfig::builder().interval(Duration::ZERO).build().unwrap_err();
        assert!(err.to_string().contains("`interval` = 0ms"), "{err}");
    }

    #[test]
    fn rejects_zero_timeout_and_concurrency() {
        let err = CheckpointConfig::builder().timeout(Duration::ZERO).build().unwrap_err();
        assert!(err.to_string().contains("`timeout`"), "{err}");
        let err = CheckpointConfig::builder().max_concurrent(0).build().unwrap_err();
        assert!(err.to_string().contains("`max_concurrent` = 0"), "{err}");
    }

    #[test]
    fn keeps_valid_values() {
        let c = CheckpointConfig::builder()
            .interval(Duration::from_millis(50))
            .mode(CheckpointingMode::AtLeastOnce)
            .max_concurrent(2)
            .tolerable_failed_checkpoints(3)
            .build()
            .unwrap();
        assert_eq!(c.interval(), Some(Duration::from_millis(50)));
        assert_eq!(c.mode(), CheckpointingMode::AtLeastOnce);
        assert_eq!(c.max_concurrent(), 2);
        assert_eq!(c.tolerable_failed(), 3);
    }
}

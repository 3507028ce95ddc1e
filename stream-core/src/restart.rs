//! Restart strategies: what happens after a task fails.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::error::{Result, StreamError};
use crate::retry::{Backoff, RetryPolicy};

/// How a failed job is restarted (Flink's four strategies).
#[derive(Debug, Clone, PartialEq, Default)]
pub enum RestartStrategy {
    /// Fail the job on the first failure.
    #[default]
    None,
    /// Restart up to `attempts` times, waiting `delay` each time.
    FixedDelay {
        /// Restarts allowed.
        attempts: u32,
        /// Wait before each restart.
        delay: Duration,
    },
    /// Wait `initial`, multiplied by `multiplier` after each failure up to `max`, with
    /// random jitter of +/- `jitter` (a fraction in 0..=1); the delay resets after
    /// `reset_after` without failure. Restarts forever.
    ExponentialDelay {
        /// First delay.
        initial: Duration,
        /// Largest delay.
        max: Duration,
        /// Growth factor (>= 1).
        multiplier: f64,
        /// Jitter fraction in `0.0..=1.0`.
        jitter: f64,
        /// Quiet time after which the delay returns to `initial`.
        reset_after: Duration,
    },
    /// Restart as long as there are at most `max_failures` within `interval`.
    FailureRate {
        /// Failures tolerated within `interval`.
        max_failures: u32,
        /// Measuring window.
        interval: Duration,
        /// Wait before each restart.
        delay: Duration,
    },
}

impl RestartStrategy {
    /// Fixed delay between at most `attempts` restarts.
    pub fn fixed_delay(attempts: u32, delay: Duration) -> Self {
        RestartStrategy::FixedDelay { attempts, delay }
    }

    /// Exponential delay with Flink's defaults for multiplier (2.0), jitter (0.1) and
    /// reset (1 hour).
    pub fn exponential_delay(initial: Duration, max: Duration) -> Self {
        RestartStrategy::ExponentialDelay {
            initial,
            max,
            multiplier: 2.0,
            jitter: 0.1,
            reset_after: Duration::from_secs(3600),
        }
    }

    /// At most `max_failures` within `interval`, waiting `delay` before each restart.
    pub fn failure_rate(max_failures: u32, interval: Duration, delay: Duration) -> Self {
        RestartStrategy::FailureRate { max_failures, interval, delay }
    }

    /// Check the values; the error names the bad one.
    pub fn validate(&self) -> Result<()> {
        match self {
            RestartStrategy::ExponentialDelay { initial, max, multiplier, jitter, .. } => {
                if initial.is_zero() {
                    return Err(StreamError::invalid("initial", "0ms", "the initial backoff must be > 0"));
                }
                if max < initial {
                    return Err(StreamError::invalid(
                        "max",
                        format!("{max:?}"),
                        format!("must be >= initial ({initial:?})"),
                    ));
                }
                if multiplier.is_nan() || *multiplier < 1.0 {
                    return Err(StreamError::invalid("multiplier", multiplier, "must be >= 1.0"));
                }
                if !(0.0..=1.0).contains(jitter) {
                    return Err(StreamError::invalid("jitter", jitter, "must be within 0.0..=1.0"));
                }
                Ok(())
            }
            RestartStrategy::FailureRate { max_failures, interval, .. } => {
                if *max_failures == 0 {
                    return Err(StreamError::invalid(
                        "max_failures",
                        0,
                        "at least one failure per interval must be allowed",
                    ));
                }
                if interval.is_zero() {
                    return Err(StreamError::invalid("interval", "0ms", "the failure-rate interval must be > 0"));
                }
                Ok(())
            }
            RestartStrategy::None | RestartStrategy::FixedDelay { .. } => Ok(()),
        }
    }

    pub(crate) fn tracker(&self) -> RestartTracker {
        let backoff = match self {
            RestartStrategy::ExponentialDelay { initial, max, multiplier, jitter, .. } => {
                Some(RetryPolicy::exponential(*initial, *max).multiplier(*multiplier).jitter(*jitter).backoff())
            }
            _ => None,
        };
        RestartTracker { strategy: self.clone(), restarts: 0, failures: VecDeque::new(), backoff, last_failure: None }
    }
}

/// Decides, failure by failure, whether and when to restart.
#[derive(Debug)]
pub(crate) struct RestartTracker {
    strategy: RestartStrategy,
    restarts: u32,
    failures: VecDeque<Instant>,
    /// The exponential delay's waits.
    backoff: Option<Backoff>,
    last_failure: Option<Instant>,
}

impl RestartTracker {
    /// Record a failure at `now`; `Some(delay)` to restart after `delay`, `None` to give up.
    pub(crate) fn on_failure(&mut self, now: Instant) -> Option<Duration> {
        let decision = match &self.strategy {
            RestartStrategy::None => None,
            RestartStrategy::FixedDelay { attempts, delay } => (self.restarts < *attempts).then_some(*delay),
            RestartStrategy::ExponentialDelay { reset_after, .. } => {
                let quiet = self.last_failure.is_some_and(|last| now.duration_since(last) >= *reset_after);
                self.backoff.as_mut().map(|backoff| {
                    if quiet {
                        backoff.reset();
                    }
                    backoff.delay()
                })
            }
            RestartStrategy::FailureRate { max_failures, interval, delay } => {
                self.failures.push_back(now);
                while self.failures.front().is_some_and(|t| now.duration_since(*t) > *interval) {
                    self.failures.pop_front();
                }
                (self.failures.len() as u32 <= *max_failures).then_some(*delay)
            }
        };
        self.last_failure = Some(now);
        if decision.is_some() {
            self.restarts += 1;
        }
        decision
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn none_never_restarts() {
        assert_eq!(RestartStrategy::None.tracker().on_failure(Instant::now()), None);
    }

    #[test]
    fn fixed_delay_counts_attempts() {
        let mut t = RestartStrategy::fixed_delay(2, Duration::from_millis(5)).tracker();
        let now = Instant::now();
        assert_eq!(t.on_failure(now), Some(Duration::from_millis(5)));
        assert_eq!(t.on_failure(now), Some(Duration::from_millis(5)));
        assert_eq!(t.on_failure(now), None);
    }

    #[test]
    fn exponential_delay_grows_is_capped_jittered_and_resets() {
        let strategy = RestartStrategy::ExponentialDelay {
            initial: Duration::from_millis(100),
            max: Duration::from_millis(350),
            multiplier: 2.0,
            jitter: 0.1,
            reset_after: Duration::from_secs(10),
        };
        strategy.validate().unwrap();
        let mut t = strategy.tracker();
        let start = Instant::now();
        let within = |d: Option<Duration>, base: u64| {
            let ms = d.unwrap().as_secs_f64() * 1000.0;
            assert!(ms >= base as f64 * 0.9 - 0.001 && ms <= base as f64 * 1.1 + 0.001, "{ms} vs {base}");
        };
        within(t.on_failure(start), 100);
        within(t.on_failure(start), 200);
        within(t.on_failure(start), 350);
        within(t.on_failure(start), 350);
        within(t.on_failure(start + Duration::from_secs(11)), 100);
    }

    #[test]
    fn failure_rate_allows_n_per_interval() {
        let mut t = RestartStrategy::failure_rate(2, Duration::from_secs(60), Duration::ZERO).tracker();
        let start = Instant::now();
        assert!(t.on_failure(start).is_some());
        assert!(t.on_failure(start + Duration::from_secs(1)).is_some());
        assert!(t.on_failure(start + Duration::from_secs(2)).is_none());
        let mut t = RestartStrategy::failure_rate(2, Duration::from_secs(60), Duration::ZERO).tracker();
        assert!(t.on_failure(start).is_some());
        assert!(t.on_failure(start + Duration::from_secs(1)).is_some());
        assert!(t.on_failure(start + Duration::from_secs(70)).is_some(), "old failures leave the window");
    }

    #[test]
    fn validation_names_bad_values() {
        let err = RestartStrategy::ExponentialDelay {
            initial: Duration::from_millis(1),
            max: Duration::from_millis(2),
            multiplier: 2.0,
            jitter: 1.5,
            reset_after: Duration::from_secs(1),
        }
        .validate()
        .unwrap_err();
        assert!(err.to_string().contains("`jitter` = 1.5"), "{err}");
        let err = RestartStrategy::failure_rate(0, Duration::from_secs(1), Duration::ZERO).validate().unwrap_err();
        assert!(err.to_string().contains("`max_failures` = 0"), "{err}");
    }
}

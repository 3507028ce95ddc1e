//! One retry policy for every call that may fail for a while: exponential backoff
//! with jitter, limited by a number of attempts, by wall-clock time, or by neither.
//! The runtime's commit retries, the restart strategy's exponential delay and the
//! connectors' reconnects and request retries all use it.
//!
//! ```
//! use std::time::Duration;
//! use stream_core::retry::RetryPolicy;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let policy = RetryPolicy::exponential(Duration::from_millis(1), Duration::from_millis(8))
//!     .max_attempts(4);
//! let mut calls = 0;
//! let answer: Result<u32, String> = policy
//!     .retry(
//!         "the answer",
//!         || {
//!             calls += 1;
//!             let ok = calls == 3;
//!             async move { if ok { Ok(42) } else { Err("busy".to_string()) } }
//!         },
//!         |_error| true,
//!     )
//!     .await;
//! assert_eq!((answer, calls), (Ok(42), 3));
//! # }
//! ```

use std::future::Future;
use std::time::{Duration, Instant};

use crate::error::{Result, StreamError};

/// How a failed call is retried: the first wait is `initial`, each next one
/// `multiplier` times longer up to `max_delay`, each moved at random by up to
/// `jitter` of itself (so that many clients do not retry in step). Retries stop after
/// `max_attempts` calls or once `give_up_after` has passed since the first failure,
/// whichever comes first; with neither set they go on for ever.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    initial: Duration,
    max_delay: Duration,
    multiplier: f64,
    jitter: f64,
    max_attempts: Option<u32>,
    give_up_after: Option<Duration>,
}

impl RetryPolicy {
    /// Waits from `initial` doubling up to `max_delay`, with jitter of 0.1 (Flink's
    /// defaults for exponential backoff); no limit until one is set.
    pub fn exponential(initial: Duration, max_delay: Duration) -> Self {
        RetryPolicy { initial, max_delay, multiplier: 2.0, jitter: 0.1, max_attempts: None, give_up_after: None }
    }

    /// The same wait every time, with jitter of 0.1; no limit until one is set.
    pub fn fixed(delay: Duration) -> Self {
        RetryPolicy { multiplier: 1.0, ..RetryPolicy::exponential(delay, delay) }
    }

    /// Growth factor of the wait (>= 1.0; default 2.0).
    pub fn multiplier(mut self, multiplier: f64) -> Self {
        self.multiplier = multiplier;
        self
    }

    /// Fraction of each wait by which it is moved at random, up or down (0.0..=1.0;
    /// default 0.1).
    pub fn jitter(mut self, jitter: f64) -> Self {
        self.jitter = jitter;
        self
    }

    /// Give up after this many calls in all, the first included (>= 1).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = Some(attempts);
        self
    }

    /// Give up once this long has passed since the first failure (the time calls take
    /// counts, not only the waits).
    pub fn give_up_after(mut self, window: Duration) -> Self {
        self.give_up_after = Some(window);
        self
    }

    /// The first wait.
    pub fn initial(&self) -> Duration {
        self.initial
    }

    /// The longest wait.
    pub fn max_delay(&self) -> Duration {
        self.max_delay
    }

    /// The time limit, if any.
    pub fn time_limit(&self) -> Option<Duration> {
        self.give_up_after
    }

    /// Check the values; the error names `option` (the setting this policy was given
    /// to) and the bad value.
    pub fn validate(&self, option: &'static str) -> Result<()> {
        let bad = |value: String, rule: &str| Err(StreamError::invalid(option, value, rule));
        if self.initial.is_zero() {
            return bad("initial 0ms".into(), "the first wait must be > 0");
        }
        if self.max_delay < self.initial {
            return bad(
                format!("max_delay {:?}", self.max_delay),
                &format!("must be >= the first wait ({:?})", self.initial),
            );
        }
        if self.multiplier.is_nan() || self.multiplier < 1.0 {
            return bad(format!("multiplier {}", self.multiplier), "must be >= 1.0");
        }
        if !(0.0..=1.0).contains(&self.jitter) {
            return bad(format!("jitter {}", self.jitter), "must be within 0.0..=1.0");
        }
        if self.max_attempts == Some(0) {
            return bad("max_attempts 0".into(), "at least one attempt is needed");
        }
        if self.give_up_after == Some(Duration::ZERO) {
            return bad("give_up_after 0ms".into(), "must be > 0, or not set");
        }
        Ok(())
    }

    /// A fresh backoff state for one call (or one stream of calls that resets on
    /// success).
    pub fn backoff(&self) -> Backoff {
        Backoff { policy: self.clone(), failures: 0, current: None, failing_since: None }
    }

    /// Call `call` until it succeeds, fails with an error `retryable` rejects, or the
    /// policy gives up (then the last error is returned). Each retry is logged at
    /// `warn`, naming `what` and the error.
    ///
    /// `call` makes a new future for each attempt; a call that needs `&mut` access
    /// to something (a committer) loops over [`RetryPolicy::backoff`] instead.
    pub async fn retry<T, E, F, Fut>(
        &self,
        what: &str,
        mut call: F,
        retryable: impl Fn(&E) -> bool,
    ) -> std::result::Result<T, E>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = std::result::Result<T, E>>,
        E: std::fmt::Display,
    {
        let mut backoff = self.backoff();
        loop {
            let error = match call().await {
                Ok(value) => return Ok(value),
                Err(error) => error,
            };
            if !retryable(&error) {
                return Err(error);
            }
            match backoff.next_delay() {
                Some(delay) => {
                    tracing::warn!(what, attempt = backoff.failures(), ?delay, %error, "failed; retrying");
                    tokio::time::sleep(delay).await;
                }
                None => return Err(error),
            }
        }
    }
}

/// The state of one run of retries under a [`RetryPolicy`].
#[derive(Debug, Clone)]
pub struct Backoff {
    policy: RetryPolicy,
    failures: u32,
    current: Option<Duration>,
    failing_since: Option<Instant>,
}

impl Backoff {
    /// Note a failure: the wait before the next attempt, or `None` when the policy's
    /// attempts or time are used up.
    pub fn next_delay(&mut self) -> Option<Duration> {
        let now = Instant::now();
        let since = *self.failing_since.get_or_insert(now);
        let attempts_left = self.policy.max_attempts.is_none_or(|max| self.failures + 1 < max);
        let time_left = self.policy.give_up_after.is_none_or(|window| now.duration_since(since) < window);
        if !(attempts_left && time_left) {
            self.failures += 1;
            return None;
        }
        Some(self.delay())
    }

    /// Note a failure that is retried whatever the limits (throttling, say): the wait
    /// before the next attempt. It counts towards the limits of [`Backoff::next_delay`].
    pub fn delay(&mut self) -> Duration {
        self.failing_since.get_or_insert_with(Instant::now);
        self.failures += 1;
        let policy = &self.policy;
        let base = match self.current {
            Some(current) => current.mul_f64(policy.multiplier).min(policy.max_delay),
            None => policy.initial,
        };
        self.current = Some(base);
        let factor = 1.0 + policy.jitter * (fastrand::f64() * 2.0 - 1.0);
        base.mul_f64(factor.max(0.0))
    }

    /// A success: the next failure starts from the first wait again.
    pub fn reset(&mut self) {
        self.failures = 0;
        self.current = None;
        self.failing_since = None;
    }

    /// Failures since the last success.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// When the failures since the last success began.
    pub fn failing_since(&self) -> Option<Instant> {
        self.failing_since
    }
}

/// Failures of a periodic call (partition or file discovery) that the next period
/// tries again anyway: each is logged and tolerated until they have lasted `limit`
/// in a row, then returned.
#[derive(Debug, Clone)]
pub struct Tolerance {
    limit: Duration,
    failing_since: Option<Instant>,
}

impl Tolerance {
    /// Tolerate failures for `limit` in a row.
    pub fn new(limit: Duration) -> Self {
        Tolerance { limit, failing_since: None }
    }

    /// `Ok(Some(value))` for a success; `Ok(None)` for a failure within the limit
    /// (logged as a failure of `what`); the error once failures lasted the limit.
    pub fn check<T>(&mut self, what: &str, result: Result<T>) -> Result<Option<T>> {
        match result {
            Ok(value) => {
                self.failing_since = None;
                Ok(Some(value))
            }
            Err(e) => {
                let since = *self.failing_since.get_or_insert_with(Instant::now);
                if since.elapsed() >= self.limit {
                    return Err(e);
                }
                tracing::warn!(error = %e, limit = ?self.limit, "{what} failed; trying again at the next interval");
                Ok(None)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tolerance_forgives_failures_until_they_last_the_limit() {
        let failure = || Err::<u32, _>(StreamError::invalid("x", 1, "broken"));
        let mut tolerance = Tolerance::new(Duration::from_millis(50));
        assert!(matches!(tolerance.check("listing", failure()), Ok(None)));
        assert!(matches!(tolerance.check("listing", Ok(7)), Ok(Some(7))));
        assert!(matches!(tolerance.check("listing", failure()), Ok(None)), "a success starts the window again");
        std::thread::sleep(Duration::from_millis(60));
        assert!(tolerance.check("listing", failure()).is_err());
    }

    fn ms(d: Duration) -> f64 {
        d.as_secs_f64() * 1000.0
    }

    #[test]
    fn waits_grow_are_capped_and_jittered_within_the_fraction() {
        let policy = RetryPolicy::exponential(Duration::from_millis(100), Duration::from_millis(350));
        for _ in 0..50 {
            let mut backoff = policy.backoff();
            for base in [100.0, 200.0, 350.0, 350.0] {
                let wait = ms(backoff.next_delay().unwrap());
                assert!((base * 0.9 - 0.001..=base * 1.1 + 0.001).contains(&wait), "{wait} vs {base}");
            }
        }
    }

    #[test]
    fn jitter_moves_waits_both_ways() {
        let mut backoff = RetryPolicy::fixed(Duration::from_millis(100)).jitter(0.5).backoff();
        let waits: Vec<f64> = (0..200).map(|_| ms(backoff.delay())).collect();
        assert!(waits.iter().any(|w| *w < 90.0) && waits.iter().any(|w| *w > 110.0), "{waits:?}");
        assert!(waits.iter().all(|w| (50.0..=150.0).contains(w)), "{waits:?}");
    }

    #[test]
    fn attempts_limit_counts_the_first_call() {
        let mut backoff = RetryPolicy::fixed(Duration::from_millis(1)).max_attempts(3).backoff();
        assert!(backoff.next_delay().is_some());
        assert!(backoff.next_delay().is_some());
        assert_eq!(backoff.next_delay(), None);
        backoff.reset();
        assert!(backoff.next_delay().is_some());
    }

    #[test]
    fn time_limit_counts_from_the_first_failure() {
        let mut backoff =
            RetryPolicy::fixed(Duration::from_millis(1)).give_up_after(Duration::from_millis(30)).backoff();
        assert!(backoff.next_delay().is_some());
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(backoff.next_delay(), None);
    }

    #[test]
    fn reset_starts_from_the_first_wait() {
        let mut backoff =
            RetryPolicy::exponential(Duration::from_millis(100), Duration::from_secs(10)).jitter(0.0).backoff();
        backoff.delay();
        backoff.delay();
        assert_eq!(backoff.delay(), Duration::from_millis(400));
        backoff.reset();
        assert_eq!(backoff.delay(), Duration::from_millis(100));
    }

    #[test]
    fn bad_values_are_named() {
        let err = |p: RetryPolicy| p.validate("commit_retry").unwrap_err().to_string();
        let base = RetryPolicy::exponential(Duration::from_millis(10), Duration::from_secs(1));
        assert!(err(base.clone().jitter(1.5)).contains("`commit_retry` = jitter 1.5"));
        assert!(err(base.clone().multiplier(0.5)).contains("multiplier 0.5"));
        assert!(err(base.clone().max_attempts(0)).contains("max_attempts 0"));
        assert!(err(RetryPolicy::exponential(Duration::from_secs(2), Duration::from_secs(1))).contains("max_delay"));
        assert!(err(RetryPolicy::fixed(Duration::ZERO)).contains("initial 0ms"));
        base.validate("commit_retry").unwrap();
    }

    #[tokio::test]
    async fn retry_stops_at_an_error_that_is_not_retryable() {
        let policy = RetryPolicy::fixed(Duration::from_millis(1)).max_attempts(5);
        let mut calls = 0;
        let result: std::result::Result<(), String> = policy
            .retry(
                "test",
                || {
                    calls += 1;
                    let error = if calls == 2 { "fatal" } else { "busy" };
                    async move { Err(error.to_string()) }
                },
                |e| e == "busy",
            )
            .await;
        assert_eq!((result, calls), (Err("fatal".to_string()), 2));
    }

    #[tokio::test]
    async fn retry_gives_up_with_the_last_error() {
        let policy = RetryPolicy::fixed(Duration::from_millis(1)).max_attempts(3);
        let mut calls = 0;
        let result: std::result::Result<(), String> = policy
            .retry(
                "test",
                || {
                    calls += 1;
                    let n = calls;
                    async move { Err(format!("busy {n}")) }
                },
                |_| true,
            )
            .await;
        assert_eq!((result, calls), (Err("busy 3".to_string()), 3));
    }
}

//! AIMD congestion control of in-flight entries (Flink's `CongestionControlRateLimiter`
//! with `AIMDScalingStrategy`): the limit grows additively after a fully successful
//! request, halves after a request with failures, and never exceeds
//! `max_batch_size * max_in_flight_requests`.

/// Additive increase per fully successful request.
const INCREASE: usize = 10;

#[derive(Debug, Clone)]
pub(crate) struct Aimd {
    limit: usize,
    cap: usize,
}

impl Aimd {
    pub(crate) fn new(max_batch_size: usize, max_in_flight_requests: usize) -> Self {
        let cap = max_batch_size.saturating_mul(max_in_flight_requests).max(1);
        Aimd { limit: cap, cap }
    }

    /// Entries that may be in flight at once now.
    pub(crate) fn limit(&self) -> usize {
        self.limit
    }

    pub(crate) fn on_success(&mut self) {
        self.limit = (self.limit + INCREASE).min(self.cap);
    }

    pub(crate) fn on_failure(&mut self) {
        self.limit = (self.limit / 2).max(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn halves_on_failure_grows_on_success_and_is_capped() {
        let mut aimd = Aimd::new(10, 4);
        assert_eq!(aimd.limit(), 40);
        aimd.on_failure();
        assert_eq!(aimd.limit(), 20);
        aimd.on_failure();
        aimd.on_failure();
        aimd.on_failure();
        aimd.on_failure();
        aimd.on_failure();
        assert_eq!(aimd.limit(), 1, "never below one entry");
        aimd.on_success();
        assert_eq!(aimd.limit(), 11);
        for _ in 0..10 {
            aimd.on_success();
        }
        assert_eq!(aimd.limit(), 40, "capped at batch size x in-flight");
    }
}

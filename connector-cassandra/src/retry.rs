//! Requests sent again when they fail in a way that may pass (a timeout, an
//! unavailable or overloaded node, a broken connection), with backoff, for at most a
//! given time: the sink's writes and the source's page reads.

use std::future::Future;
use std::time::{Duration, Instant};

use scylla::errors::{DbError, ExecutionError, RequestAttemptError};
use stream_core::retry::RetryPolicy;

/// Why a request gave up.
pub(crate) enum GaveUp {
    /// It failed in a way that does not pass (or may not be sent twice).
    Failed(ExecutionError),
    /// It kept failing in ways that may pass for longer than the time allowed.
    Exhausted(ExecutionError),
}

/// Whether `error` may pass if the same request is sent again.
pub(crate) fn may_pass(error: &ExecutionError) -> bool {
    match error {
        ExecutionError::RequestTimeout(_) | ExecutionError::EmptyPlan | ExecutionError::ConnectionPoolError(_) => true,
        ExecutionError::LastAttemptError(attempt) => match attempt {
            RequestAttemptError::BrokenConnectionError(_) | RequestAttemptError::UnableToAllocStreamId => true,
            RequestAttemptError::DbError(db, _) => matches!(
                db,
                DbError::WriteTimeout { .. }
                    | DbError::ReadTimeout { .. }
                    | DbError::Unavailable { .. }
                    | DbError::Overloaded
                    | DbError::IsBootstrapping
                    | DbError::ServerError
            ),
            _ => false,
        },
        _ => false,
    }
}

/// Run `request` until it succeeds, sending it again (when `may_repeat`) while it
/// fails in ways that may pass, for at most `within`. `what` names it in the logs.
pub(crate) async fn retry_within<T, F, Fut>(
    what: &str,
    may_repeat: bool,
    within: Duration,
    mut request: F,
) -> Result<T, GaveUp>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ExecutionError>>,
{
    let first_try = Instant::now();
    let mut backoff = RetryPolicy::exponential(Duration::from_millis(50), Duration::from_secs(2)).backoff();
    loop {
        let error = match request().await {
            Ok(answer) => return Ok(answer),
            Err(error) => error,
        };
        if !(may_repeat && may_pass(&error)) {
            return Err(GaveUp::Failed(error));
        }
        let Some(left) = within.checked_sub(first_try.elapsed()).filter(|left| !left.is_zero()) else {
            return Err(GaveUp::Exhausted(error));
        };
        // The last try starts before `within` is over, not a whole backoff later.
        let delay = backoff.delay().min(left);
        tracing::warn!(%what, %error, ?delay, "request failed; sending it again");
        metrics::counter!("cassandra_requests_retried_total").increment(1);
        tokio::time::sleep(delay).await;
    }
}

//! How a shard's reading reacts to a failed call, shared by polling and enhanced
//! fan-out: throttling backs off, failures on the way back off for at most
//! [`FAIL_AFTER`] and then fail the reader (the job restarts from its checkpoint),
//! anything else fails the reader naming Kinesis's code.

use std::time::{Duration, Instant};

use aws_sdk_kinesis::error::{ProvideErrorMetadata, SdkError};
use stream_core::Result;

use crate::error::KinesisError;

/// How long calls for a shard may keep failing on the way before the reader fails.
pub(crate) const FAIL_AFTER: Duration = Duration::from_secs(30);

/// Error codes that mean "too fast, or busy: try later".
const TRY_LATER: &[&str] = &[
    "ProvisionedThroughputExceededException",
    "LimitExceededException",
    "ThrottlingException",
    "KMSThrottlingException",
    "InternalFailure",
    "ServiceUnavailable",
    // SubscribeToShard: the previous subscription of this shard is still open.
    "ResourceInUseException",
];

/// The retry state of one shard.
#[derive(Debug, Default)]
pub(crate) struct ShardRetry {
    pub(crate) not_before: Option<Instant>,
    backoff: Duration,
    failing_since: Option<Instant>,
}

/// A failed call.
pub(crate) struct Failure {
    pub(crate) operation: &'static str,
    /// Kinesis's code and message, or `None` for a failure on the way.
    pub(crate) service: Option<(String, String)>,
    /// The failure as text (for failures on the way).
    pub(crate) text: String,
}

impl Failure {
    /// A failed SDK call of `operation`.
    pub(crate) fn of<E, R>(operation: &'static str, error: &SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        Failure { operation, service: connector_base::aws::service_error(error), text: format!("{error} ({error:?})") }
    }

    /// Whether Kinesis answered with `code`.
    pub(crate) fn is(&self, code: &str) -> bool {
        self.service.as_ref().is_some_and(|(c, _)| c == code)
    }
}

impl ShardRetry {
    /// Whether the shard must wait before the next call.
    pub(crate) fn waiting(&self) -> bool {
        self.not_before.is_some_and(|t| Instant::now() < t)
    }

    /// A call succeeded: no more backoff.
    pub(crate) fn succeeded(&mut self) {
        *self = ShardRetry::default();
    }

    /// Back off after `failed` (a call for `shard` of `stream`), or fail the reader
    /// when retrying cannot help.
    pub(crate) fn failed(&mut self, stream: &str, shard: &str, failed: Failure) -> Result<()> {
        let now = Instant::now();
        match failed.service {
            Some((code, _)) if TRY_LATER.contains(&code.as_str()) => {
                tracing::debug!(stream = stream, shard = shard, %code, "{} throttled; backing off", failed.operation);
            }
            Some((code, message)) => {
                return Err(KinesisError::Rejected {
                    stream: stream.to_string(),
                    operation: failed.operation,
                    code,
                    message,
                }
                .into());
            }
            None => {
                let since = *self.failing_since.get_or_insert(now);
                if now.duration_since(since) > FAIL_AFTER {
                    return Err(KinesisError::Unreachable {
                        stream: stream.to_string(),
                        shard: shard.to_string(),
                        seconds: FAIL_AFTER.as_secs(),
                        message: failed.text.chars().take(400).collect(),
                    }
                    .into());
                }
                tracing::warn!(stream = stream, shard = shard, error = %failed.text, "{} failed on the way; retrying", failed.operation);
            }
        }
        self.backoff = (self.backoff * 2).clamp(Duration::from_millis(100), Duration::from_secs(2));
        self.not_before = Some(now + self.backoff);
        Ok(())
    }
}

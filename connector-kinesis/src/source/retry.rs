//! How a shard's reading reacts to a failed call, shared by polling and enhanced
//! fan-out: throttling backs off, failures on the way back off within the limits of
//! the source's retry policy and then fail the reader (the job restarts from its
//! checkpoint), anything else fails the reader naming Kinesis's code.

use std::time::Instant;

use aws_sdk_kinesis::error::{ProvideErrorMetadata, SdkError};
use stream_core::Result;
use stream_core::retry::{Backoff, RetryPolicy};

use crate::error::KinesisError;

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
#[derive(Debug)]
pub(crate) struct ShardRetry {
    pub(crate) not_before: Option<Instant>,
    backoff: Backoff,
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
    pub(crate) fn new(policy: &RetryPolicy) -> Self {
        ShardRetry { not_before: None, backoff: policy.backoff() }
    }

    /// Whether the shard must wait before the next call.
    pub(crate) fn waiting(&self) -> bool {
        self.not_before.is_some_and(|t| Instant::now() < t)
    }

    /// A call succeeded: no more backoff.
    pub(crate) fn succeeded(&mut self) {
        self.not_before = None;
        self.backoff.reset();
    }

    /// Back off after `failed` (a call for `shard` of `stream`), or fail the reader
    /// when retrying cannot help.
    pub(crate) fn failed(&mut self, stream: &str, shard: &str, failed: Failure) -> Result<()> {
        let delay = match failed.service {
            Some((code, _)) if TRY_LATER.contains(&code.as_str()) => {
                tracing::debug!(stream = stream, shard = shard, %code, "{} throttled; backing off", failed.operation);
                self.backoff.delay()
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
            None => match self.backoff.next_delay() {
                Some(delay) => {
                    tracing::warn!(stream = stream, shard = shard, error = %failed.text, "{} failed on the way; retrying", failed.operation);
                    delay
                }
                None => {
                    let seconds = self.backoff.failing_since().map_or(0, |since| since.elapsed().as_secs());
                    return Err(KinesisError::Unreachable {
                        stream: stream.to_string(),
                        shard: shard.to_string(),
                        seconds,
                        message: failed.text.chars().take(400).collect(),
                    }
                    .into());
                }
            },
        };
        self.not_before = Some(Instant::now() + delay);
        Ok(())
    }
}

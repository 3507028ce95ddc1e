//! What the AWS connectors share (feature `aws`): naming where an `SdkConfig` points,
//! reading a failed call as the service's error code or a transport failure, and the
//! check at start that a table or stream is there.

use std::future::Future;
use std::time::Duration;

use aws_config::SdkConfig;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use stream_core::StreamError;

use crate::error::BaseError;

/// Where `sdk` sends requests, for error messages: its endpoint override, else its
/// region.
pub fn endpoint_of(sdk: &SdkConfig) -> String {
    match (sdk.endpoint_url(), sdk.region()) {
        (Some(url), _) => url.to_string(),
        (None, Some(region)) => format!("region {region}"),
        (None, None) => "no region (set one in the SdkConfig)".to_string(),
    }
}

/// `sdk` with `timeout` as the bound of one call (the SDK's operation timeout, its
/// own retries included) unless `sdk` sets one: the SDK has none by default, and a
/// silent network (packets dropped, a stalled proxy) then holds a call for ever.
pub fn with_call_timeout(sdk: &SdkConfig, timeout: Duration) -> SdkConfig {
    let mut timeouts = match sdk.timeout_config() {
        Some(current) if current.operation_timeout().is_some() => return sdk.clone(),
        Some(current) => current.to_builder(),
        None => aws_smithy_types::timeout::TimeoutConfig::builder(),
    };
    timeouts.set_operation_timeout(Some(timeout));
    sdk.to_builder().timeout_config(timeouts.build()).build()
}

/// The service's error code and message when the service answered with an error;
/// `None` for a failure on the way (timeout, connection, unreadable answer), which a
/// sink retries.
pub fn service_error<E: ProvideErrorMetadata, R>(error: &SdkError<E, R>) -> Option<(String, String)> {
    match error {
        SdkError::ServiceError(service) => Some((
            service.err().code().unwrap_or("Unknown").to_string(),
            service.err().message().unwrap_or_default().to_string(),
        )),
        _ => None,
    }
}

/// How long the check at start may take.
const CHECK_TIMEOUT: Duration = Duration::from_secs(30);

/// The check a source or sink makes at start: `describe` (a call describing `what`
/// `name`, such as `DescribeTable`) answers within 30 s. A missing table or stream, a
/// wrong endpoint or region or bad credentials fail here, naming it and where `sdk`
/// points. Returns the description.
pub async fn check_exists<T, E, R>(
    what: &'static str,
    name: &str,
    sdk: &SdkConfig,
    describe: impl Future<Output = Result<T, SdkError<E, R>>>,
) -> stream_core::Result<T>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    call_failing(CHECK_TIMEOUT, describe).await.map_err(|failure| {
        let permanent = failure.is_permanent();
        let error = unusable(what, name, sdk, failure.to_string());
        // The service refused for good (a missing resource, refused credentials):
        // no restart changes that, so the job fails at once.
        if permanent { StreamError::permanent(error) } else { error }
    })
}

/// Service error codes of a start-up check that no restart can change.
const PERMANENT_REFUSALS: &[&str] = &[
    "ResourceNotFoundException",
    "AccessDeniedException",
    "UnrecognizedClientException",
    "InvalidSignatureException",
    "MissingAuthenticationTokenException",
    "ValidationException",
    "InvalidArgumentException",
];

/// How a call run by [`call_within`] failed.
enum CallFailure {
    /// The service answered with an error code.
    Refused { code: String, message: String },
    /// No answer: a transport failure, or none within the timeout.
    Unanswered(String),
}

impl CallFailure {
    fn is_permanent(&self) -> bool {
        matches!(self, CallFailure::Refused { code, .. } if PERMANENT_REFUSALS.contains(&code.as_str()))
    }
}

impl std::fmt::Display for CallFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallFailure::Refused { code, message } => write!(f, "{code}: {message}"),
            CallFailure::Unanswered(what) => f.write_str(what),
        }
    }
}

/// Run one call for at most `timeout`, telling a service's refusal from no answer.
async fn call_failing<T, E, R>(
    timeout: Duration,
    call: impl Future<Output = Result<T, SdkError<E, R>>>,
) -> Result<T, CallFailure>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match tokio::time::timeout(timeout, call).await {
        Ok(Ok(answer)) => Ok(answer),
        Ok(Err(error)) => Err(match service_error(&error) {
            Some((code, message)) => CallFailure::Refused { code, message },
            None => CallFailure::Unanswered(format!("{error} ({error:?})").chars().take(400).collect()),
        }),
        Err(_) => Err(CallFailure::Unanswered(format!("no answer within {timeout:?}"))),
    }
}

/// `what` `name` (a table, a stream) cannot be used through `sdk`: the error names
/// it, where `sdk` points and `message`, and says what to check.
pub fn unusable(what: &'static str, name: &str, sdk: &SdkConfig, message: String) -> stream_core::StreamError {
    BaseError::Unusable {
        what,
        name: name.to_string(),
        endpoint: endpoint_of(sdk),
        message,
        hint: "create it, or check the region, endpoint and credentials of the SdkConfig",
    }
    .into()
}

/// Run one call (a start-up check such as describing the table or stream) for at most
/// `timeout`; a failure becomes a one-line description: `Code: message` from the
/// service, or the transport failure.
pub async fn call_within<T, E, R>(
    timeout: Duration,
    call: impl Future<Output = Result<T, SdkError<E, R>>>,
) -> Result<T, String>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    call_failing(timeout, call).await.map_err(|failure| failure.to_string())
}

/// What a failed write request of a sink means.
#[derive(Debug, PartialEq, Eq)]
pub enum RequestFailure {
    /// Send the batch again (throttled, or failed on the way).
    Retry,
    /// Rejected in a way retrying cannot mend: the service's code and message.
    Fatal {
        /// The service's error code.
        code: String,
        /// The service's message.
        message: String,
    },
}

/// Sort a failed `api` request to `target` (a stream or table, for the log): failures
/// on the way (timeouts, connections, unreadable answers) and the service codes in
/// `retryable` are retried, any other service error is fatal.
pub fn request_failure<E, R>(error: &SdkError<E, R>, retryable: &[&str], api: &str, target: &str) -> RequestFailure
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match service_error(error) {
        None => {
            tracing::warn!(target, error = %error, "{api} failed on the way; retrying");
            RequestFailure::Retry
        }
        Some((code, _)) if retryable.contains(&code.as_str()) => {
            tracing::debug!(target, %code, "{api} throttled; retrying");
            RequestFailure::Retry
        }
        Some((code, message)) => RequestFailure::Fatal { code, message },
    }
}

//! Connecting, with retries while the broker is (re)starting, and the URL with its
//! password hidden.

use std::time::{Duration, Instant};

use lapin::{Connection, ConnectionProperties};
use stream_core::retry::RetryPolicy;

use crate::error::RabbitMqError;

pub(crate) use connector_base::redact_url as redact;

/// Check the URL's form; the error names it (redacted).
pub(crate) fn validate(url: &str) -> stream_core::Result<()> {
    url.parse::<lapin::uri::AMQPUri>()
        .map(|_| ())
        .map_err(|e| stream_core::StreamError::invalid("url", redact(url), format!("not an amqp:// URL: {e}")))
}

/// The longest one connection attempt may take before it is retried.
const ATTEMPT_LIMIT: Duration = Duration::from_secs(10);

/// A failed connection attempt.
enum ConnectFailure {
    /// The broker or the client said why.
    Refused(lapin::Error),
    /// No answer within the attempt's limit (a broker accepting TCP while it shuts
    /// down or boots).
    Hung(Duration),
}

impl std::fmt::Display for ConnectFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            // A client message may quote the URL: never with its password.
            ConnectFailure::Refused(e) => f.write_str(&redact(&e.to_string())),
            ConnectFailure::Hung(limit) => write!(f, "no answer within {limit:?}"),
        }
    }
}

/// Whether another attempt can help: not after the broker refused the credentials
/// (403 ACCESS_REFUSED) or the virtual host (530 NOT_ALLOWED), nor when the client
/// cannot authenticate or speak the broker's protocol version. Read from the error's
/// kind and AMQP reply code, never from its text.
fn retryable(failure: &ConnectFailure) -> bool {
    let ConnectFailure::Refused(error) = failure else { return true };
    match error.kind() {
        lapin::ErrorKind::ProtocolError(amqp) => !matches!(amqp.get_id(), 403 | 530),
        lapin::ErrorKind::AuthProviderError(_) | lapin::ErrorKind::InvalidProtocolVersion(_) => false,
        _ => true,
    }
}

/// Connect, retrying refused or reset connections for up to `timeout` (a broker
/// being restarted), waiting 100 ms doubling to 2 s between attempts, with jitter;
/// refused credentials or virtual hosts are not retried.
pub(crate) async fn connect(url: &str, timeout: Duration) -> stream_core::Result<Connection> {
    let policy = RetryPolicy::exponential(Duration::from_millis(100), Duration::from_secs(2)).give_up_after(timeout);
    let started = Instant::now();
    let attempt = || {
        let limit = timeout.saturating_sub(started.elapsed()).clamp(Duration::from_millis(100), ATTEMPT_LIMIT);
        async move {
            match tokio::time::timeout(limit, Connection::connect(url, ConnectionProperties::default())).await {
                Ok(Ok(connection)) => Ok(connection),
                Ok(Err(e)) => Err(ConnectFailure::Refused(e)),
                Err(_) => Err(ConnectFailure::Hung(limit)),
            }
        }
    };
    let endpoint = redact(url);
    policy
        .retry(&endpoint, attempt, retryable)
        .await
        .map_err(|failure| RabbitMqError::Connect { endpoint: endpoint.clone(), message: failure.to_string() }.into())
}

/// Run one broker operation for at most `timeout`; an error or the timeout fails
/// with a message naming `operation`.
pub(crate) async fn within<T, E: std::fmt::Display>(
    timeout: Duration,
    operation: &str,
    call: impl Future<Output = Result<T, E>>,
) -> stream_core::Result<T> {
    match tokio::time::timeout(timeout, call).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(RabbitMqError::channel(operation, e)),
        Err(_) => Err(RabbitMqError::channel(
            operation,
            format!(
                "no answer from the broker within {timeout:?} (operation_timeout); the connection is \
                 taken as lost and the job restarts"
            ),
        )),
    }
}

/// Closes started from `Drop`, so that a new consumer can wait for them.
static CLOSING: std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>> = std::sync::Mutex::new(Vec::new());

/// Close in the background (from `Drop`): the broker then requeues what this
/// connection's consumers held unacknowledged.
pub(crate) fn close_in_background(connection: Connection) {
    if let Ok(handle) = tokio::runtime::Handle::try_current() {
        let task = handle.spawn(async move {
            let _ = connection.close(200, "closing".into()).await;
        });
        if let Ok(mut closing) = CLOSING.lock() {
            closing.retain(|t| !t.is_finished());
            closing.push(task);
        }
    }
}

/// Wait (up to 10 s) for connections of this process that are still closing: a
/// consumer starting before an earlier attempt's connection is closed would get new
/// messages before the requeued ones.
pub(crate) async fn await_closing() {
    let tasks: Vec<_> = match CLOSING.lock() {
        Ok(mut closing) => closing.drain(..).collect(),
        Err(_) => return,
    };
    let _ = tokio::time::timeout(Duration::from_secs(10), futures::future::join_all(tasks)).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_show_and_bad_urls_are_named() {
        assert_eq!(redact("amqp://guest:s3cret@h:5672/%2f"), "amqp://guest:***@h:5672/%2f");
        assert_eq!(redact("amqp://h:5672"), "amqp://h:5672");
        let e = validate("http://guest:pw@h").unwrap_err().to_string();
        assert!(e.contains("http://guest:***@h") && !e.contains("pw"), "{e}");
        assert!(validate("amqp://guest:guest@127.0.0.1:5672/%2f").is_ok());
    }
}

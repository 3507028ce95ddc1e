//! Connecting, with retries while the broker is (re)starting, and the URL with its
//! password hidden.

use std::sync::Arc;
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
pub(crate) async fn connect(url: &str, timeout: Duration) -> stream_core::Result<OwnedConnection> {
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
    let connection = policy.retry(&endpoint, attempt, retryable).await.map_err(|failure| {
        let permanent = !retryable(&failure);
        let error = RabbitMqError::Connect { endpoint: endpoint.clone(), timeout, message: failure.to_string() };
        // Refused credentials or virtual host: no restart changes them either.
        if permanent { stream_core::StreamError::permanent(error) } else { error.into() }
    })?;
    Ok(OwnedConnection { connection: Arc::new(connection), consumes: false })
}

/// Connecting and setting up what a caller needs on the connection (a channel, a
/// consumer, publisher confirms), where a connection lost during the set-up (a cut
/// right after connecting) is connected and set up again, within `connect_timeout`
/// in all:
///
/// ```ignore
/// let attempts = SetUpAttempts::within(connect_timeout);
/// loop {
///     let connection = attempts.connect(url).await?;
///     match set_up(&connection).await {
///         Err(e) if attempts.again(&connection, &e).await => continue,
///         made => break (connection, made?),
///     }
/// }
/// ```
pub(crate) struct SetUpAttempts {
    deadline: Instant,
}

impl SetUpAttempts {
    pub(crate) fn within(connect_timeout: Duration) -> Self {
        SetUpAttempts { deadline: Instant::now() + connect_timeout }
    }

    /// Connect, with what is left of `connect_timeout`.
    pub(crate) async fn connect(&self, url: &str) -> stream_core::Result<OwnedConnection> {
        connect(url, self.deadline.saturating_duration_since(Instant::now())).await
    }

    /// Whether a set-up that failed with `error` goes again: only when `connection`
    /// is gone and time is left (after a short pause).
    pub(crate) async fn again(&self, connection: &OwnedConnection, error: &stream_core::StreamError) -> bool {
        // A call can fail on a reset before lapin's I/O loop has marked the
        // connection closed: give the status a moment to catch up (a sink failed its
        // job on "open channel: connection reset" under network cuts in CI).
        let settled = Instant::now() + Duration::from_millis(200);
        while connection.status().connected() && Instant::now() < settled {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        if connection.status().connected() || Instant::now() >= self.deadline {
            return false;
        }
        tracing::warn!(%error, "rabbitmq connection lost while setting up; connecting again");
        tokio::time::sleep(Duration::from_millis(200)).await;
        true
    }
}

/// Whether `error` means the connection or its channel is gone (read from its kind):
/// the operation can go again on a new connection.
pub(crate) fn connection_lost(error: &lapin::Error) -> bool {
    error.is_io_error()
        || matches!(
            error.kind(),
            lapin::ErrorKind::InvalidConnectionState(_) | lapin::ErrorKind::InvalidChannelState(..)
        )
}

/// Run one broker operation for at most `timeout`; the timeout fails with a message
/// naming `operation` and `operation_timeout`, the operation's own error is returned
/// as it is (for the caller to classify).
pub(crate) async fn within_raw<T>(
    timeout: Duration,
    operation: &str,
    call: impl Future<Output = Result<T, lapin::Error>>,
) -> stream_core::Result<Result<T, lapin::Error>> {
    tokio::time::timeout(timeout, call).await.map_err(|_| no_answer(operation, timeout))
}

fn no_answer(operation: &str, timeout: Duration) -> stream_core::StreamError {
    RabbitMqError::channel(
        operation,
        format!(
            "no answer from the broker within {timeout:?} (operation_timeout); the connection is taken as lost and \
             the job restarts"
        ),
    )
}

/// Run one broker operation for at most `timeout`; an error or the timeout fails
/// with a message naming `operation`.
pub(crate) async fn within<T>(
    timeout: Duration,
    operation: &str,
    call: impl Future<Output = Result<T, lapin::Error>>,
) -> stream_core::Result<T> {
    match tokio::time::timeout(timeout, call).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(RabbitMqError::client(operation, e)),
        Err(_) => Err(no_answer(operation, timeout)),
    }
}

/// A connection that is closed in the background when dropped, from the moment it
/// exists: also when the task setting up a consumer on it is aborted half way (its
/// attempt of the job failed). lapin's own handle does not close it then, and the
/// broker went on delivering to the half-made consumer, whose messages stayed
/// unacknowledged, and so hidden from every other consumer, until the process ended.
pub(crate) struct OwnedConnection {
    connection: Arc<Connection>,
    /// Consumers of this process wait for its close ([`OwnedConnection::consuming`]).
    consumes: bool,
}

impl OwnedConnection {
    /// This connection consumes: a new consumer of this process waits for its close,
    /// which requeues what it held unacknowledged. A publisher's close is not waited
    /// for: it requeues nothing, and lapin sometimes never finishes it (1 round in
    /// ~12 of the RabbitMQ bench, where the source then waited 10 s to start).
    pub(crate) fn consuming(mut self) -> Self {
        self.consumes = true;
        self
    }
}

impl std::ops::Deref for OwnedConnection {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        &self.connection
    }
}

impl Drop for OwnedConnection {
    fn drop(&mut self) {
        close_in_background(self.connection.clone(), self.consumes);
    }
}

/// The longest a close started from `Drop` is waited for, by its task and by a new
/// consumer.
const CLOSE_LIMIT: Duration = Duration::from_secs(10);

/// Closes of consuming connections started from `Drop`, so that a new consumer can
/// wait for them.
static CLOSING: std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>> = std::sync::Mutex::new(Vec::new());

/// Close in the background, within [`CLOSE_LIMIT`]: the broker then requeues what
/// this connection's consumers held unacknowledged.
fn close_in_background(connection: Arc<Connection>, consumes: bool) {
    if let Ok(handle) = tokio::runtime::Handle::try_current() {
        let task = handle.spawn(async move {
            if tokio::time::timeout(CLOSE_LIMIT, connection.close(200, "closing".into())).await.is_err() {
                tracing::warn!(consumes, "a rabbitmq connection did not finish closing within {CLOSE_LIMIT:?}");
            }
        });
        if consumes && let Ok(mut closing) = CLOSING.lock() {
            closing.retain(|t| !t.is_finished());
            closing.push(task);
        }
    }
}

/// Wait (up to [`CLOSE_LIMIT`]) for consuming connections of this process that are
/// still closing: a consumer starting before an earlier attempt's connection is
/// closed would get new messages before the requeued ones.
pub(crate) async fn await_closing() {
    let tasks: Vec<_> = match CLOSING.lock() {
        Ok(mut closing) => closing.drain(..).collect(),
        Err(_) => return,
    };
    if tasks.is_empty() {
        return;
    }
    let (started, connections) = (tokio::time::Instant::now(), tasks.len());
    match tokio::time::timeout(CLOSE_LIMIT, futures::future::join_all(tasks)).await {
        Ok(_) => tracing::debug!(connections, waited = ?started.elapsed(), "earlier consuming connections closed"),
        Err(_) => tracing::warn!(
            connections,
            "earlier consuming connections still closing after {CLOSE_LIMIT:?}; consuming anyway"
        ),
    }
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

    /// Consumers of `queue`, as the broker counts them.
    async fn consumers(inspector: &lapin::Channel, queue: &str) -> u32 {
        use lapin::options::QueueDeclareOptions;
        let passive = QueueDeclareOptions { passive: true, ..QueueDeclareOptions::default() };
        let declared = inspector.queue_declare(queue.into(), passive, Default::default()).await.unwrap();
        declared.consumer_count()
    }

    /// Start a consumer of `queue` and abandon the call before the broker's answer, as
    /// an attempt's task aborted at that await does; then drop the channel.
    async fn abandon_consume(connection: &Connection, queue: &str) {
        let channel = connection.create_channel().await.unwrap();
        let consume = channel.basic_consume(queue.into(), "".into(), Default::default(), Default::default());
        // Polled once (the request goes out), then dropped.
        assert!(futures::FutureExt::now_or_never(consume).is_none(), "the call must be abandoned before its answer");
    }

    /// What a task aborted half way through setting up a consumer leaves: its handles
    /// dropped without a close. lapin keeps such a connection open, and the broker its
    /// consumer (which then holds messages nobody acknowledges); an `OwnedConnection`
    /// closes itself.
    #[tokio::test]
    async fn a_dropped_connection_closes_and_takes_its_consumer_with_it() {
        use connector_testkit::{TestServer, servers};
        use lapin::options::QueueDeclareOptions;
        let Some(server) = TestServer::discover(&servers::RABBITMQ).await.unwrap() else { return };
        let queue = format!("owned-connection-{}-{}", std::process::id(), fastrand::u32(..));
        let inspector = connect(&server.endpoint, Duration::from_secs(10)).await.unwrap();
        let inspector = inspector.create_channel().await.unwrap();
        inspector
            .queue_declare(queue.as_str().into(), QueueDeclareOptions::default(), Default::default())
            .await
            .unwrap();

        let plain = Connection::connect(&server.endpoint, ConnectionProperties::default()).await.unwrap();
        abandon_consume(&plain, &queue).await;
        drop(plain);
        tokio::time::sleep(Duration::from_millis(500)).await;
        let left_by_lapin = consumers(&inspector, &queue).await;
        assert_eq!(left_by_lapin, 1, "lapin keeps the half-made consumer (if it no longer does, say so in the docs)");

        let owned = connect(&server.endpoint, Duration::from_secs(10)).await.unwrap().consuming();
        abandon_consume(&owned, &queue).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(consumers(&inspector, &queue).await, left_by_lapin + 1, "the abandoned consume reached the broker");
        drop(owned);
        await_closing().await;
        assert_eq!(consumers(&inspector, &queue).await, left_by_lapin, "the owned connection's consumer is gone");
        let _ = inspector.queue_delete(queue.as_str().into(), Default::default()).await;
    }
}

//! Where and how to connect: a connection string (with its credentials and TLS
//! options) and the timeouts that bound a missing server.

use std::time::Duration;

use mongodb::Client;
use mongodb::bson::doc;
use mongodb::error::ErrorKind;
use mongodb::options::ClientOptions;
use stream_core::retry::RetryPolicy;

use crate::error::MongoError;

/// A MongoDB connection string (`mongodb://user:pass@host:27017/?tls=true`, or
/// `mongodb+srv://...`) and timeouts. Its `Debug` never shows the password.
#[derive(Clone)]
pub struct MongoConnection {
    uri: String,
    server_selection_timeout: Duration,
    connect_timeout: Duration,
}

impl std::fmt::Debug for MongoConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MongoConnection")
            .field("uri", &connector_base::redact_url(&self.uri))
            .field("server_selection_timeout", &self.server_selection_timeout)
            .finish_non_exhaustive()
    }
}

impl MongoConnection {
    /// Connect with `uri`; a server that does not answer fails within 30 s (see
    /// [`MongoConnection::server_selection_timeout`]).
    pub fn new(uri: impl Into<String>) -> Self {
        MongoConnection {
            uri: uri.into(),
            server_selection_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
        }
    }

    /// How long an operation waits for a server to send it to (default 30 s).
    pub fn server_selection_timeout(mut self, timeout: Duration) -> Self {
        self.server_selection_timeout = timeout;
        self
    }

    /// How long opening one connection may take (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The connection string without its password.
    pub fn redacted(&self) -> String {
        connector_base::redact_url(&self.uri)
    }

    pub(crate) fn validate(&self) -> stream_core::Result<()> {
        if !(self.uri.starts_with("mongodb://") || self.uri.starts_with("mongodb+srv://")) {
            return Err(stream_core::StreamError::invalid(
                "uri",
                self.redacted(),
                "a connection string starting with mongodb:// or mongodb+srv://",
            ));
        }
        for (option, value) in
            [("server_selection_timeout", self.server_selection_timeout), ("connect_timeout", self.connect_timeout)]
        {
            if value.is_zero() {
                return Err(stream_core::StreamError::invalid(option, "0s", "must be greater than zero"));
            }
        }
        Ok(())
    }

    fn failed(&self, source: mongodb::error::Error) -> MongoError {
        MongoError::Connect { uri: self.redacted(), source }
    }

    /// A client, checked with a `ping` (reachability and credentials). A
    /// connection dropped during the ping (a proxy or load balancer cutting it) is
    /// tried again up to three times; a server that does not answer has already
    /// had its `server_selection_timeout` and is not.
    pub(crate) async fn client(&self) -> Result<Client, MongoError> {
        let mut options = ClientOptions::parse(&self.uri).await.map_err(|e| self.failed(e))?;
        options.server_selection_timeout = Some(self.server_selection_timeout);
        options.connect_timeout = Some(self.connect_timeout);
        options.app_name.get_or_insert_with(|| "flink-connectors-rs".into());
        let client = Client::with_options(options).map_err(|e| self.failed(e))?;
        let ping = || async { client.database("admin").run_command(doc! { "ping": 1 }).await.map(drop) };
        let dropped = |e: &mongodb::error::Error| {
            matches!(e.kind.as_ref(), ErrorKind::Io(_) | ErrorKind::ConnectionPoolCleared { .. })
        };
        let policy = RetryPolicy::exponential(Duration::from_millis(100), Duration::from_secs(1)).max_attempts(4);
        policy.retry("pinging MongoDB", ping, dropped).await.map_err(|e| self.failed(e))?;
        Ok(client)
    }
}

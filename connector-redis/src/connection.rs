//! Where the server is (standalone or cluster; `rediss://` for TLS; credentials in the
//! URL or set apart) and one connection kind over both.

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use std::time::Duration;

use redis::{Cmd, IntoConnectionInfo, Pipeline, RedisResult, Value};

use crate::error::{RedisError, transient};

/// How to reach Redis. `Debug` and logs never show a password.
#[derive(Clone)]
pub struct RedisEndpoint {
    urls: Vec<String>,
    cluster: bool,
    username: Option<String>,
    password: Option<String>,
    response_timeout: Duration,
}

/// How long a command may wait for its reply unless the endpoint says otherwise.
const DEFAULT_RESPONSE_TIMEOUT: Duration = Duration::from_secs(10);

impl std::fmt::Debug for RedisEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisEndpoint")
            .field("urls", &self.redacted())
            .field("cluster", &self.cluster)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .finish()
    }
}

pub(crate) use connector_base::redact_url as redact;

impl RedisEndpoint {
    /// A standalone server: `redis://host:port/db`, `rediss://...` for TLS,
    /// `redis://:password@host` or `redis://user:password@host` for auth.
    pub fn standalone(url: impl Into<String>) -> Self {
        RedisEndpoint {
            urls: vec![url.into()],
            cluster: false,
            username: None,
            password: None,
            response_timeout: DEFAULT_RESPONSE_TIMEOUT,
        }
    }

    /// A Redis Cluster reached through any of these nodes (same URL forms).
    pub fn cluster(urls: impl IntoIterator<Item = impl Into<String>>) -> Self {
        RedisEndpoint {
            urls: urls.into_iter().map(Into::into).collect(),
            cluster: true,
            username: None,
            password: None,
            response_timeout: DEFAULT_RESPONSE_TIMEOUT,
        }
    }

    /// ACL user name (instead of one in the URL).
    pub fn username(mut self, username: impl Into<String>) -> Self {
        self.username = Some(username.into());
        self
    }

    /// Password (instead of one in the URL); never logged.
    pub fn password(mut self, password: impl Into<String>) -> Self {
        self.password = Some(password.into());
        self
    }

    /// How long one command waits for its reply before it fails as a lost
    /// connection (default 10 s; then the sink retries within its request_timeout
    /// and the source within its retry policy). A silent network is noticed after it.
    pub fn response_timeout(mut self, timeout: Duration) -> Self {
        self.response_timeout = timeout;
        self
    }

    /// The URLs with passwords replaced by `***`.
    pub fn redacted(&self) -> String {
        self.urls.iter().map(|u| redact(u)).collect::<Vec<_>>().join(",")
    }

    fn connect_error(&self, e: impl std::fmt::Display) -> stream_core::StreamError {
        RedisError::Connect { endpoint: self.redacted(), message: redact(&e.to_string()) }.into()
    }

    /// Parse and validate the URLs; the error names the bad one.
    pub(crate) fn validate(&self) -> stream_core::Result<()> {
        if self.response_timeout.is_zero() {
            return Err(stream_core::StreamError::invalid("response_timeout", "0s", "must be greater than zero"));
        }
        if self.urls.is_empty() {
            return Err(stream_core::StreamError::invalid("endpoint", "[]", "give at least one redis:// URL"));
        }
        for url in &self.urls {
            url.as_str().into_connection_info().map_err(|e| {
                stream_core::StreamError::invalid("endpoint", redact(url), format!("not a redis URL: {e}"))
            })?;
        }
        Ok(())
    }

    fn infos(&self) -> RedisResult<Vec<redis::ConnectionInfo>> {
        self.urls
            .iter()
            .map(|url| {
                let mut info = url.as_str().into_connection_info()?;
                let mut settings = info.redis_settings().clone();
                if let Some(user) = &self.username {
                    settings = settings.set_username(user);
                }
                if let Some(password) = &self.password {
                    settings = settings.set_password(password);
                }
                info = info.set_redis_settings(settings);
                Ok(info)
            })
            .collect()
    }

    /// Connect (reconnecting by itself after a lost connection).
    pub(crate) async fn connect(&self) -> stream_core::Result<Connection> {
        ensure_crypto_provider();
        let infos = self.infos().map_err(|e| self.connect_error(e))?;
        if self.cluster {
            let client = ClusterClient::builder(infos)
                .response_timeout(self.response_timeout)
                .build()
                .map_err(|e| self.connect_error(e))?;
            let conn = client.get_async_connection().await.map_err(|e| self.connect_error(e))?;
            return Ok(Connection::Cluster(conn));
        }
        let Some(info) = infos.into_iter().next() else { return Err(self.connect_error("no URL")) };
        let client = redis::Client::open(info).map_err(|e| self.connect_error(e))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(std::time::Duration::from_secs(5)))
            .set_response_timeout(Some(self.response_timeout))
            .set_number_of_retries(2);
        let conn = client.get_connection_manager_with_config(config).await.map_err(|e| self.connect_error(e))?;
        Ok(Connection::Standalone(conn))
    }
}

/// rustls needs one process-wide crypto provider; when a program's crates enable more
/// than one (ring and aws-lc-rs), rustls cannot choose and a `rediss://` connection
/// panics. Unless the program installed one, install ring.
fn ensure_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // An error means another thread installed one first: fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

/// A connection to a standalone server or a cluster; cheap to clone (multiplexed).
#[derive(Clone)]
pub(crate) enum Connection {
    Standalone(ConnectionManager),
    Cluster(ClusterConnection),
}

impl Connection {
    /// One command.
    pub(crate) async fn query(&mut self, cmd: &Cmd) -> RedisResult<Value> {
        match self {
            Connection::Standalone(c) => cmd.query_async(c).await,
            Connection::Cluster(c) => cmd.query_async(c).await,
        }
    }

    /// The commands of `pipe`, in order, with one result each. Standalone: one
    /// pipeline (one round trip). Cluster: the commands go out together over the
    /// multiplexed connection, each to the node owning its key. `Err` = the batch
    /// failed as a whole (connection); per-command server errors are in the vector.
    /// `pipe` is only borrowed, so a batch can go again without copying it.
    pub(crate) async fn batch(&mut self, pipe: &Pipeline) -> RedisResult<Vec<RedisResult<Value>>> {
        match self {
            Connection::Standalone(c) => pipe.query_async(c).await,
            Connection::Cluster(c) => {
                let replies = futures::future::join_all(pipe.cmd_iter().map(|cmd| {
                    let mut c = c.clone();
                    async move { cmd.query_async::<Value>(&mut c).await }
                }))
                .await;
                if let Some(Err(e)) = replies.iter().find(|r| r.as_ref().is_err_and(transient)) {
                    return Err(e.clone());
                }
                Ok(replies)
            }
        }
    }

    /// An empty pipeline for [`Connection::batch`]: a command's server error is its
    /// own reply instead of failing the batch.
    pub(crate) fn pipeline(capacity: usize) -> Pipeline {
        let mut pipe = Pipeline::with_capacity(capacity);
        pipe.ignore_errors();
        pipe
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_show() {
        assert_eq!(redact("redis://:s3cret@h:1/0"), "redis://:***@h:1/0");
        assert_eq!(redact("rediss://me:s3cret@h:1"), "rediss://me:***@h:1");
        assert_eq!(redact("redis://h:1"), "redis://h:1");
        let e = RedisEndpoint::standalone("redis://u:pw1@h").password("pw2");
        let shown = format!("{e:?}");
        assert!(!shown.contains("pw1") && !shown.contains("pw2"), "{shown}");
    }

    #[test]
    fn a_bad_url_is_named() {
        let e = RedisEndpoint::standalone("http://h:1").validate().unwrap_err().to_string();
        assert!(e.contains("http://h:1"), "{e}");
    }
}

//! Where and how to connect: a connection string and the timeout that bounds a
//! missing server.

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use tokio_postgres::config::SslMode;
use tokio_postgres::{Client, Config, NoTls};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::error::JdbcError;

/// A PostgreSQL connection string (`postgres://user:password@host:5432/database`, or
/// `host=... user=...`), timeouts and TLS. Its `Debug` never shows the password.
///
/// TLS: `sslmode=require` in the string connects over TLS only, and always checks the
/// server's certificate and host name (libpq's `verify-full`) against Mozilla's roots
/// and those of [`PgConnection::root_certificates`]. Without it (`prefer`, the
/// default, or `disable`) the connection is not encrypted: libpq's `prefer` would try
/// TLS without checking the certificate, which this connector does not do.
#[derive(Clone)]
pub struct PgConnection {
    url: String,
    connect_timeout: Duration,
    operation_timeout: Duration,
    root_certificates: Option<PathBuf>,
}

impl std::fmt::Debug for PgConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgConnection")
            .field("url", &self.redacted())
            .field("connect_timeout", &self.connect_timeout)
            .field("operation_timeout", &self.operation_timeout)
            .field("root_certificates", &self.root_certificates)
            .finish()
    }
}

impl PgConnection {
    /// Connect with `url`; a server that does not answer fails within 10 s (see
    /// [`PgConnection::connect_timeout`]), a statement within 60 s (see
    /// [`PgConnection::operation_timeout`]).
    pub fn new(url: impl Into<String>) -> Self {
        PgConnection {
            url: url.into(),
            connect_timeout: Duration::from_secs(10),
            operation_timeout: Duration::from_secs(60),
            root_certificates: None,
        }
    }

    /// Also trust the CA certificates of this PEM file under `sslmode=require` (a
    /// managed database's bundle, such as RDS's `global-bundle.pem`, or a private CA).
    pub fn root_certificates(mut self, pem_file: impl Into<PathBuf>) -> Self {
        self.root_certificates = Some(pem_file.into());
        self
    }

    /// The TLS connector: Mozilla's roots and those of `root_certificates`, on ring
    /// (chosen here: a program whose crates enable two crypto providers leaves rustls
    /// without a default).
    fn tls(&self) -> Result<MakeRustlsConnect, JdbcError> {
        let mut roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
        if let Some(path) = &self.root_certificates {
            let bad = |reason: String| JdbcError::Certificates { path: path.clone(), reason };
            let certificates: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
                .and_then(|found| found.collect())
                .map_err(|e| bad(e.to_string()))?;
            if certificates.is_empty() {
                return Err(bad("no PEM certificate in it".into()));
            }
            for certificate in certificates {
                roots.add(certificate).map_err(|e| bad(e.to_string()))?;
            }
        }
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| JdbcError::Invalid(format!("TLS: {e}")))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(MakeRustlsConnect::new(config))
    }

    /// How long one round of statements (a batch, a prepare, a commit, a page) may
    /// wait for the server (default 60 s). Past it the session is given up as lost:
    /// its server process is ended, and the work is tried again on a new session
    /// under the retry policy. A network that drops traffic without closing the
    /// connection is noticed this way.
    pub fn operation_timeout(mut self, timeout: Duration) -> Self {
        self.operation_timeout = timeout;
        self
    }

    /// `work`, or a [`JdbcError::Timeout`] naming `what` when it takes longer than
    /// the operation timeout.
    pub(crate) async fn within<T>(
        &self,
        what: &str,
        work: impl Future<Output = Result<T, JdbcError>>,
    ) -> Result<T, JdbcError> {
        let after = self.operation_timeout;
        tokio::time::timeout(after, work).await.unwrap_or_else(|_| Err(JdbcError::Timeout { what: what.into(), after }))
    }

    /// How long opening a connection may take (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The connection string without its password.
    pub fn redacted(&self) -> String {
        if self.url.contains("://") {
            connector_base::redact_url(&self.url)
        } else {
            // key=value form: hide the value of `password`.
            self.url
                .split_whitespace()
                .map(|pair| if pair.starts_with("password=") { "password=***" } else { pair })
                .collect::<Vec<_>>()
                .join(" ")
        }
    }

    /// The parsed configuration; an error names the string (without its password).
    pub(crate) fn config(&self) -> Result<Config, JdbcError> {
        let mut config =
            Config::from_str(&self.url).map_err(|source| JdbcError::BadUrl { url: self.redacted(), source })?;
        config.connect_timeout(self.connect_timeout);
        Ok(config)
    }

    /// Check the options (the string parses, the timeout is positive).
    pub fn validate(&self) -> Result<(), JdbcError> {
        if self.connect_timeout.is_zero() {
            return Err(JdbcError::Invalid("connect_timeout must be > 0".into()));
        }
        if self.operation_timeout.is_zero() {
            return Err(JdbcError::Invalid("operation_timeout must be > 0".into()));
        }
        if self.root_certificates.is_some() {
            self.tls()?;
        }
        self.config().map(drop)
    }

    /// A new session; its connection runs on a task of its own until the client is
    /// dropped.
    pub async fn connect(&self) -> Result<Client, JdbcError> {
        let config = self.config()?;
        let failed = |source| JdbcError::Connect { url: self.redacted(), source };
        match config.get_ssl_mode() {
            SslMode::Disable | SslMode::Prefer => {
                let (client, connection) = config.connect(NoTls).await.map_err(failed)?;
                self.drive(connection);
                Ok(client)
            }
            _ => {
                let (client, connection) = config.connect(self.tls()?).await.map_err(failed)?;
                self.drive(connection);
                Ok(client)
            }
        }
    }

    /// Run a session's connection on a task of its own until its client is dropped.
    fn drive(&self, connection: impl Future<Output = Result<(), tokio_postgres::Error>> + Send + 'static) {
        let url = self.redacted();
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%url, %error, "postgres connection ended");
            }
        });
    }

    /// The server's `max_prepared_transactions`; an error when it is 0 (two-phase
    /// commit cannot run).
    pub async fn check_prepared_transactions(&self, client: &Client) -> Result<i64, JdbcError> {
        let row = client
            .query_one("SELECT current_setting('max_prepared_transactions')::bigint", &[])
            .await
            .map_err(|source| JdbcError::Statement { what: "reading max_prepared_transactions".into(), source })?;
        let allowed: i64 = row.get(0);
        if allowed <= 0 {
            return Err(JdbcError::NoPreparedTransactions(allowed));
        }
        Ok(allowed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_show() {
        let url = PgConnection::new("postgres://app:s3cret@db:5432/orders");
        assert!(!format!("{url:?}").contains("s3cret"), "{url:?}");
        let pairs = PgConnection::new("host=db user=app password=s3cret dbname=orders");
        assert_eq!(pairs.redacted(), "host=db user=app password=*** dbname=orders");
    }

    #[test]
    fn a_bad_string_is_named_without_its_password() {
        let error = PgConnection::new("postgres://app:s3cret@db:notaport/x").validate().unwrap_err().to_string();
        assert!(error.contains("bad PostgreSQL connection string") && !error.contains("s3cret"), "{error}");
        let zero = PgConnection::new("postgres://db/x").connect_timeout(Duration::ZERO).validate();
        assert!(zero.unwrap_err().to_string().contains("connect_timeout"));
    }
}

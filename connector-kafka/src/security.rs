//! How the clients reach a secured cluster: librdkafka's `security.protocol`, SASL
//! mechanism and credentials, and TLS files, set through one value both builders take.
//! Passwords never appear in `Debug` output, logs or errors.
//!
//! TLS (`SSL`, `SASL_SSL`) and SASL/SCRAM need the crate's `ssl` feature (librdkafka
//! built with the system's OpenSSL), SASL/GSSAPI its `gssapi` feature (Cyrus SASL);
//! SASL/PLAIN and OAUTHBEARER are built in. A build without what a setting needs
//! fails at `build()`, naming the setting.

use std::path::{Path, PathBuf};

/// librdkafka's `security.protocol`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SecurityProtocol {
    /// No TLS, no SASL (the default).
    Plaintext,
    /// TLS without SASL (client certificates or none).
    Ssl,
    /// SASL without TLS: credentials travel in clear with PLAIN; test clusters only.
    SaslPlaintext,
    /// SASL over TLS: what managed clusters (Confluent Cloud, MSK, Aiven, Event Hubs) use.
    SaslSsl,
}

impl SecurityProtocol {
    fn as_str(self) -> &'static str {
        match self {
            SecurityProtocol::Plaintext => "plaintext",
            SecurityProtocol::Ssl => "ssl",
            SecurityProtocol::SaslPlaintext => "sasl_plaintext",
            SecurityProtocol::SaslSsl => "sasl_ssl",
        }
    }
}

/// librdkafka's `sasl.mechanism`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SaslMechanism {
    /// User name and password as they are (over TLS only, in practice).
    Plain,
    /// SCRAM with SHA-256 (needs the `ssl` feature).
    ScramSha256,
    /// SCRAM with SHA-512 (needs the `ssl` feature).
    ScramSha512,
    /// Kerberos (needs the `gssapi` feature; set `sasl.kerberos.*` as properties).
    Gssapi,
    /// OAuth bearer tokens (set `sasl.oauthbearer.*` as properties).
    OauthBearer,
}

impl SaslMechanism {
    fn as_str(self) -> &'static str {
        match self {
            SaslMechanism::Plain => "PLAIN",
            SaslMechanism::ScramSha256 => "SCRAM-SHA-256",
            SaslMechanism::ScramSha512 => "SCRAM-SHA-512",
            SaslMechanism::Gssapi => "GSSAPI",
            SaslMechanism::OauthBearer => "OAUTHBEARER",
        }
    }
}

/// How the connector's clients authenticate and encrypt; give it to
/// `KafkaSource::builder(..).security(..)` and `KafkaSink::builder(..).security(..)`.
///
/// ```
/// use connector_kafka::{KafkaSecurity, SaslMechanism};
///
/// // Confluent Cloud: SASL/PLAIN over TLS with an API key and secret.
/// let security = KafkaSecurity::sasl_ssl(SaslMechanism::Plain, "API_KEY", "API_SECRET");
/// assert!(!format!("{security:?}").contains("API_SECRET"));
/// ```
#[derive(Clone)]
pub struct KafkaSecurity {
    protocol: SecurityProtocol,
    sasl: Option<(SaslMechanism, Option<(String, String)>)>,
    ca_location: Option<PathBuf>,
    client_certificate: Option<(PathBuf, PathBuf)>,
}

impl std::fmt::Debug for KafkaSecurity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sasl = self.sasl.as_ref().map(|(mechanism, login)| (mechanism, login.as_ref().map(|(user, _)| user)));
        f.debug_struct("KafkaSecurity")
            .field("protocol", &self.protocol)
            .field("sasl (mechanism, username)", &sasl)
            .field("ca_location", &self.ca_location)
            .field("client_certificate", &self.client_certificate)
            .finish()
    }
}

impl KafkaSecurity {
    /// TLS, verifying the brokers against the system's CA store (or [`Self::ca_location`]).
    pub fn ssl() -> Self {
        KafkaSecurity { protocol: SecurityProtocol::Ssl, sasl: None, ca_location: None, client_certificate: None }
    }

    /// SASL over TLS with a user name and password (PLAIN or SCRAM).
    pub fn sasl_ssl(mechanism: SaslMechanism, username: impl Into<String>, password: impl Into<String>) -> Self {
        KafkaSecurity {
            protocol: SecurityProtocol::SaslSsl,
            sasl: Some((mechanism, Some((username.into(), password.into())))),
            ..Self::ssl()
        }
    }

    /// SASL without TLS: for test clusters; a password travels in clear with PLAIN.
    pub fn sasl_plaintext(mechanism: SaslMechanism, username: impl Into<String>, password: impl Into<String>) -> Self {
        KafkaSecurity { protocol: SecurityProtocol::SaslPlaintext, ..Self::sasl_ssl(mechanism, username, password) }
    }

    /// SASL over TLS with a mechanism that takes no password here (GSSAPI,
    /// OAUTHBEARER): their settings go in as properties.
    pub fn sasl_ssl_with(mechanism: SaslMechanism) -> Self {
        KafkaSecurity { sasl: Some((mechanism, None)), ..Self::sasl_ssl(mechanism, "", "") }
    }

    /// Verify the brokers' certificates against this CA file (PEM) instead of the
    /// system's store.
    pub fn ca_location(mut self, path: impl AsRef<Path>) -> Self {
        self.ca_location = Some(path.as_ref().to_path_buf());
        self
    }

    /// Authenticate with a client certificate and its key (PEM files; mutual TLS).
    pub fn client_certificate(mut self, certificate: impl AsRef<Path>, key: impl AsRef<Path>) -> Self {
        self.client_certificate = Some((certificate.as_ref().to_path_buf(), key.as_ref().to_path_buf()));
        self
    }

    /// The librdkafka properties this sets.
    pub(crate) fn properties(&self) -> Vec<(String, String)> {
        let mut properties = vec![("security.protocol".to_string(), self.protocol.as_str().to_string())];
        if let Some((mechanism, login)) = &self.sasl {
            properties.push(("sasl.mechanism".into(), mechanism.as_str().into()));
            if let Some((username, password)) = login {
                properties.push(("sasl.username".into(), username.clone()));
                properties.push(("sasl.password".into(), password.clone()));
            }
        }
        if let Some(path) = &self.ca_location {
            properties.push(("ssl.ca.location".into(), path.display().to_string()));
        }
        if let Some((certificate, key)) = &self.client_certificate {
            properties.push(("ssl.certificate.location".into(), certificate.display().to_string()));
            properties.push(("ssl.key.location".into(), key.display().to_string()));
        }
        properties
    }
}

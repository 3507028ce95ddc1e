//! How a sink reaches its cluster: hosts, credentials, a CA certificate. Passwords,
//! keys and tokens never appear in `Debug` output, logs or errors.

use stream_core::{Result, StreamError};

/// Credentials for every request.
#[derive(Clone, PartialEq, Eq)]
pub enum Credentials {
    /// HTTP basic authentication.
    Basic {
        /// The user.
        user: String,
        /// The password.
        password: String,
    },
    /// An API key by id and key (sent as `ApiKey base64(id:key)`).
    ApiKey {
        /// The key's id.
        id: String,
        /// The key.
        key: String,
    },
    /// An API key already encoded, as the cluster hands it out.
    EncodedApiKey(String),
    /// A bearer token.
    Bearer(String),
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credentials::Basic { user, .. } => write!(f, "Basic {{ user: {user:?}, password: *** }}"),
            Credentials::ApiKey { id, .. } => write!(f, "ApiKey {{ id: {id:?}, key: *** }}"),
            Credentials::EncodedApiKey(_) => f.write_str("EncodedApiKey(***)"),
            Credentials::Bearer(_) => f.write_str("Bearer(***)"),
        }
    }
}

impl Credentials {
    /// Who the credentials name, for errors (never the secret).
    pub(crate) fn who(&self) -> String {
        match self {
            Credentials::Basic { user, .. } => format!("user `{user}` (basic_auth)"),
            Credentials::ApiKey { id, .. } => format!("API key `{id}` (api_key)"),
            Credentials::EncodedApiKey(_) => "the encoded API key (encoded_api_key)".into(),
            Credentials::Bearer(_) => "the bearer token (bearer_token)".into(),
        }
    }
}

/// The cluster's hosts, credentials and TLS trust: what a backend makes its client
/// from.
#[derive(Clone, Default)]
pub struct Connection {
    /// The nodes, `http(s)://host:port` (requests go round the list).
    pub hosts: Vec<url::Url>,
    /// Sent with every request, if set.
    pub credentials: Option<Credentials>,
    /// A CA certificate (PEM) to trust for `https` hosts, besides the system's.
    pub ca_certificate_pem: Option<Vec<u8>>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("hosts", &self.hosts_text())
            .field("credentials", &self.credentials)
            .field("ca_certificate", &self.ca_certificate_pem.as_ref().map(|_| "PEM"))
            .finish()
    }
}

impl Connection {
    /// Parse and check `hosts`; the error names the bad one (without a password).
    pub(crate) fn parse_hosts(hosts: &[String]) -> Result<Vec<url::Url>> {
        if hosts.is_empty() {
            return Err(StreamError::invalid("hosts", "[]", "give at least one http(s)://host:port"));
        }
        hosts
            .iter()
            .map(|host| {
                let shown = connector_base::redact_url(host);
                let url = url::Url::parse(host)
                    .map_err(|e| StreamError::invalid("hosts", &shown, format!("not a URL: {e}")))?;
                if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
                    return Err(StreamError::invalid("hosts", &shown, "give http(s)://host:port"));
                }
                if !url.username().is_empty() || url.password().is_some() {
                    return Err(StreamError::invalid(
                        "hosts",
                        &shown,
                        "credentials do not belong in the URL: use basic_auth (kept out of logs)",
                    ));
                }
                Ok(url)
            })
            .collect()
    }

    /// The hosts as text, for logs and errors.
    pub fn hosts_text(&self) -> String {
        let hosts: Vec<&str> = self.hosts.iter().map(|u| u.as_str().trim_end_matches('/')).collect();
        hosts.join(", ")
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn hosts_are_checked_and_secrets_never_shown() {
        let hosts = |h: &[&str]| Connection::parse_hosts(&h.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert!(hosts(&["http://127.0.0.1:9200", "https://es.example:443"]).is_ok());
        assert!(hosts(&[]).unwrap_err().to_string().contains("`hosts`"));
        assert!(hosts(&["127.0.0.1:9200"]).unwrap_err().to_string().contains("127.0.0.1:9200"));
        let err = hosts(&["http://elastic:s3cret@h:9200"]).unwrap_err().to_string();
        assert!(err.contains("basic_auth") && !err.contains("s3cret"), "{err}");
        let connection = Connection {
            hosts: hosts(&["http://h:9200"]).unwrap(),
            credentials: Some(Credentials::Basic { user: "elastic".into(), password: "s3cret".into() }),
            ca_certificate_pem: None,
        };
        let shown = format!("{connection:?}");
        assert!(shown.contains("elastic") && !shown.contains("s3cret"), "{shown}");
        let token = format!("{:?}", Credentials::Bearer("tok3n".into()));
        assert!(!token.contains("tok3n"));
    }
}

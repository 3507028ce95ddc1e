//! Requests through the official opensearch client: its credentials and TLS, and a
//! connection pool going round the hosts (the client has one for a single node
//! only).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use connector_search::{Backend, Body, BulkTransport, Connection, Credentials, HttpAnswer, Method};
use opensearch::auth::Credentials as OsCredentials;
use opensearch::cert::{Certificate, CertificateValidation};
use opensearch::http::headers::{CONTENT_TYPE, HeaderMap, HeaderValue};
use opensearch::http::response::Response;
use opensearch::http::transport::{Connection as Node, ConnectionPool, TransportBuilder};

use crate::config::OpenSearch;

/// Sends a writer's requests.
pub struct OpenSearchTransport {
    client: opensearch::OpenSearch,
}

/// The hosts in turn.
#[derive(Debug, Clone)]
struct RoundRobin {
    nodes: Arc<Vec<Node>>,
    next: Arc<AtomicUsize>,
}

impl ConnectionPool for RoundRobin {
    fn next(&self) -> Node {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.nodes.len().max(1);
        self.nodes[i].clone()
    }
}

fn credentials(credentials: &Credentials) -> Result<OsCredentials, String> {
    Ok(match credentials.clone() {
        Credentials::Basic { user, password } => OsCredentials::Basic(user, password),
        Credentials::ApiKey { id, key } => OsCredentials::ApiKey(id, key),
        Credentials::Bearer(token) => OsCredentials::Bearer(token),
        Credentials::EncodedApiKey(_) => {
            return Err("the opensearch client takes no encoded API key: give api_key(id, key)".into());
        }
    })
}

impl Backend for OpenSearch {
    const SYSTEM: &'static str = "OpenSearch";
    const CONNECTOR: &'static str = "opensearch";
    type Transport = OpenSearchTransport;

    fn transport(connection: &Connection) -> Result<OpenSearchTransport, String> {
        if connection.hosts.is_empty() {
            return Err("no hosts".into());
        }
        let nodes = connection.hosts.iter().cloned().map(Node::new).collect();
        let mut builder = TransportBuilder::new(RoundRobin { nodes: Arc::new(nodes), next: Arc::default() });
        if let Some(c) = &connection.credentials {
            builder = builder.auth(credentials(c)?);
        }
        if let Some(pem) = &connection.ca_certificate_pem {
            let ca = Certificate::from_pem(pem).map_err(|e| format!("ca_certificate_pem: {e}"))?;
            builder = builder.cert_validation(CertificateValidation::Full(ca));
        }
        let transport = builder.build().map_err(|e| e.to_string())?;
        Ok(OpenSearchTransport { client: opensearch::OpenSearch::new(transport) })
    }
}

async fn answer(response: Result<Response, opensearch::Error>) -> Result<HttpAnswer, String> {
    let response = response.map_err(|e| e.to_string())?;
    let status = response.status_code().as_u16();
    let body = response.bytes().await.map_err(|e| e.to_string())?;
    Ok(HttpAnswer { status, body })
}

impl BulkTransport for OpenSearchTransport {
    async fn send(&self, method: Method, path: &str, body: Option<Body>) -> Result<HttpAnswer, String> {
        let method = match method {
            Method::Get => opensearch::http::Method::Get,
            Method::Post => opensearch::http::Method::Post,
            Method::Put => opensearch::http::Method::Put,
            Method::Delete => opensearch::http::Method::Delete,
        };
        let mut headers = HeaderMap::new();
        let body = body.map(|body| {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static(body.content_type));
            body.bytes
        });
        // The path carries its query string.
        answer(self.client.send(method, path, headers, None::<&()>, body, None).await).await
    }
}

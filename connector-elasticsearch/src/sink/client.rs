//! Requests through the official elasticsearch client: its connection pool (one
//! node, or round robin over several), credentials and TLS.

use connector_search::{Backend, Body, BulkTransport, Connection, Credentials, HttpAnswer, Method};
use elasticsearch::auth::Credentials as EsCredentials;
use elasticsearch::cert::{Certificate, CertificateValidation};
use elasticsearch::http::headers::{CONTENT_TYPE, HeaderMap, HeaderValue};
use elasticsearch::http::response::Response;
use elasticsearch::http::transport::{MultiNodeConnectionPool, SingleNodeConnectionPool, TransportBuilder};

use crate::config::Elasticsearch;

/// Sends a writer's requests.
pub struct ElasticsearchTransport {
    client: elasticsearch::Elasticsearch,
}

fn credentials(credentials: &Credentials) -> EsCredentials {
    match credentials.clone() {
        Credentials::Basic { user, password } => EsCredentials::Basic(user, password),
        Credentials::ApiKey { id, key } => EsCredentials::ApiKey(id, key),
        Credentials::EncodedApiKey(key) => EsCredentials::EncodedApiKey(key),
        Credentials::Bearer(token) => EsCredentials::Bearer(token),
    }
}

impl Backend for Elasticsearch {
    const SYSTEM: &'static str = "Elasticsearch";
    const CONNECTOR: &'static str = "elasticsearch";
    type Transport = ElasticsearchTransport;

    fn transport(connection: &Connection) -> Result<ElasticsearchTransport, String> {
        let mut builder = match connection.hosts.as_slice() {
            [one] => TransportBuilder::new(SingleNodeConnectionPool::new(one.clone())),
            many => TransportBuilder::new(MultiNodeConnectionPool::round_robin(many.to_vec(), None)),
        };
        if let Some(c) = &connection.credentials {
            builder = builder.auth(credentials(c));
        }
        if let Some(pem) = &connection.ca_certificate_pem {
            let ca = Certificate::from_pem(pem).map_err(|e| format!("ca_certificate_pem: {e}"))?;
            builder = builder.cert_validation(CertificateValidation::Full(ca));
        }
        let transport = builder.build().map_err(|e| e.to_string())?;
        Ok(ElasticsearchTransport { client: elasticsearch::Elasticsearch::new(transport) })
    }
}

async fn answer(response: Result<Response, elasticsearch::Error>) -> Result<HttpAnswer, String> {
    let response = response.map_err(|e| e.to_string())?;
    let status = response.status_code().as_u16();
    let body = response.bytes().await.map_err(|e| e.to_string())?;
    Ok(HttpAnswer { status, body })
}

impl BulkTransport for ElasticsearchTransport {
    async fn send(&self, method: Method, path: &str, body: Option<Body>) -> Result<HttpAnswer, String> {
        let method = match method {
            Method::Get => elasticsearch::http::Method::Get,
            Method::Post => elasticsearch::http::Method::Post,
            Method::Put => elasticsearch::http::Method::Put,
            Method::Delete => elasticsearch::http::Method::Delete,
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

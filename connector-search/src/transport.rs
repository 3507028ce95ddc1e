//! What the bulk logic needs from a client crate: a bulk request and a request for
//! the cluster's root, sent through that crate's own client (elasticsearch or
//! opensearch), so that its connection pool, authentication and TLS apply.

use std::future::Future;

use crate::connection::Connection;

/// An HTTP answer: its status and body.
#[derive(Debug, Clone)]
pub struct HttpAnswer {
    /// The HTTP status.
    pub status: u16,
    /// The body.
    pub body: bytes::Bytes,
}

/// A request's method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// GET
    Get,
    /// POST
    Post,
    /// PUT
    Put,
    /// DELETE
    Delete,
}

/// A request's body and its content type.
#[derive(Debug, Clone)]
pub struct Body {
    /// The bytes.
    pub bytes: Vec<u8>,
    /// `application/json` or `application/x-ndjson`.
    pub content_type: &'static str,
}

impl Body {
    /// A JSON body.
    pub fn json(bytes: Vec<u8>) -> Body {
        Body { bytes, content_type: "application/json" }
    }

    /// An NDJSON body (a bulk request).
    pub fn ndjson(bytes: Vec<u8>) -> Body {
        Body { bytes, content_type: "application/x-ndjson" }
    }
}

/// Sends requests to the cluster. An `Err` is a failure on the way (no connection,
/// a timeout, a broken answer), which the sink retries; an answer with any status is
/// `Ok`.
pub trait BulkTransport: Send + Sync + 'static {
    /// One request to `path` (with its query string).
    fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Body>,
    ) -> impl Future<Output = Result<HttpAnswer, String>> + Send;
}

/// A client crate the sink runs on.
pub trait Backend: Send + Sync + 'static {
    /// "Elasticsearch" or "OpenSearch", for messages.
    const SYSTEM: &'static str;
    /// The `connector` label of the sink's metrics (`elasticsearch`, `opensearch`).
    const CONNECTOR: &'static str;
    /// Its transport.
    type Transport: BulkTransport;
    /// A client for `connection`; the error says what is wrong with it.
    fn transport(connection: &Connection) -> Result<Self::Transport, String>;
}

//! The builder both sinks share, and the validation of its options.

use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use connector_base::DeliveryGuarantee;
use connector_base::async_sink::{AsyncSink, AsyncSinkOptions, ServiceLimits};
use stream_core::{Result, StreamError};

use crate::connection::{Connection, Credentials};
use crate::emitter::Emitter;
use crate::policy::FailurePolicy;
use crate::target::SearchIndex;
use crate::transport::Backend;

/// What a cluster takes in one `_bulk` request (its `http.max_content_length`,
/// 100 MiB by default); the sink's defaults are far below.
const BULK: ServiceLimits = ServiceLimits {
    api: "_bulk",
    max_batch_size: 100_000,
    max_batch_size_in_bytes: 100 * 1024 * 1024,
    max_record_size_in_bytes: 100 * 1024 * 1024,
};

/// A bulk sink on `B`'s client: connector-base's batching, retrying async sink
/// with a search cluster as its target.
pub type SearchSink<T, B> = AsyncSink<T, SearchIndex<T, B>>;

/// Builder of a [`SearchSink`]: `connector_elasticsearch::ElasticsearchSinkBuilder`
/// and `connector_opensearch::OpenSearchSinkBuilder` are this, on their clients.
///
/// Defaults (Flink's bulk processor's): a bulk request at 1000 actions, 5 MiB or
/// when its oldest action waited 1 s, whichever comes first; 4 requests in flight
/// (1 with exactly-once); at-least-once; a refused action fails the job.
pub struct SearchSinkBuilder<T, B> {
    hosts: Vec<String>,
    emitter: Arc<dyn Emitter<T>>,
    credentials: Option<Credentials>,
    ca_certificate_pem: Option<Vec<u8>>,
    guarantee: DeliveryGuarantee,
    policy: FailurePolicy,
    max_retries: u32,
    connect_timeout: Duration,
    options: AsyncSinkOptions,
    backend: PhantomData<fn() -> B>,
}

impl<T: Send + 'static, B: Backend> SearchSinkBuilder<T, B> {
    /// Write to the cluster at `hosts` (`http(s)://host:port`, requests go round
    /// them), each record made an [`crate::Action`] by `emitter`.
    pub fn new<S: Into<String>>(hosts: impl IntoIterator<Item = S>, emitter: impl Emitter<T>) -> Self {
        let mut options = AsyncSinkOptions::new(BULK);
        options.max_batch_size = 1000;
        options.max_batch_size_in_bytes = 5 * 1024 * 1024;
        options.max_record_size_in_bytes = 5 * 1024 * 1024;
        options.max_time_in_buffer = Duration::from_secs(1);
        SearchSinkBuilder {
            hosts: hosts.into_iter().map(Into::into).collect(),
            emitter: Arc::new(emitter),
            credentials: None,
            ca_certificate_pem: None,
            guarantee: DeliveryGuarantee::AtLeastOnce,
            policy: FailurePolicy::Fail,
            max_retries: 10,
            connect_timeout: Duration::from_secs(30),
            options,
            backend: PhantomData,
        }
    }

    /// HTTP basic authentication.
    pub fn basic_auth(mut self, user: impl Into<String>, password: impl Into<String>) -> Self {
        self.credentials = Some(Credentials::Basic { user: user.into(), password: password.into() });
        self
    }

    /// An API key by id and key.
    pub fn api_key(mut self, id: impl Into<String>, key: impl Into<String>) -> Self {
        self.credentials = Some(Credentials::ApiKey { id: id.into(), key: key.into() });
        self
    }

    /// An API key as the cluster encoded it.
    pub fn encoded_api_key(mut self, key: impl Into<String>) -> Self {
        self.credentials = Some(Credentials::EncodedApiKey(key.into()));
        self
    }

    /// A bearer token.
    pub fn bearer_token(mut self, token: impl Into<String>) -> Self {
        self.credentials = Some(Credentials::Bearer(token.into()));
        self
    }

    /// Trust this CA certificate (PEM) for `https` hosts, besides the system's roots.
    pub fn ca_certificate_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.ca_certificate_pem = Some(pem.into());
        self
    }

    /// `AtLeastOnce` (default: every action is written by the time its checkpoint
    /// completes) or `ExactlyOnce`: every action names its document by id (refused
    /// otherwise), so a replay after a restore leaves the index as one delivery
    /// would; one request in flight keeps the actions in order.
    pub fn delivery_guarantee(mut self, guarantee: DeliveryGuarantee) -> Self {
        self.guarantee = guarantee;
        self
    }

    /// What to do with an action the server refuses for good (default
    /// [`FailurePolicy::Fail`]).
    pub fn failure_policy(mut self, policy: FailurePolicy) -> Self {
        self.policy = policy;
        self
    }

    /// How often one action is sent again after a retryable refusal (429, 5xx, a
    /// concurrent update) before the job fails (default 10). `request_timeout` bounds
    /// the time as well.
    pub fn max_retries_per_action(mut self, retries: u32) -> Self {
        self.max_retries = retries;
        self
    }

    /// How long the writers wait at start for the cluster to answer (default 30 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    connector_base::async_sink_options!(options, "default 4; exactly-once needs 1");

    /// Validate and build; the error names the bad option and value.
    pub fn build(self) -> Result<SearchSink<T, B>> {
        let hosts = Connection::parse_hosts(&self.hosts)?;
        if !matches!(self.guarantee, DeliveryGuarantee::AtLeastOnce | DeliveryGuarantee::ExactlyOnce) {
            return Err(StreamError::invalid(
                "delivery_guarantee",
                self.guarantee,
                format!("the {} sink offers at-least-once, or exactly-once with deterministic ids", B::SYSTEM),
            ));
        }
        if self.connect_timeout.is_zero() {
            return Err(StreamError::invalid("connect_timeout", "0s", "must be greater than zero"));
        }
        if let Some(pem) = &self.ca_certificate_pem
            && !String::from_utf8_lossy(pem).contains("-----BEGIN CERTIFICATE-----")
        {
            return Err(StreamError::invalid(
                "ca_certificate_pem",
                format!("{} bytes", pem.len()),
                "not a PEM certificate",
            ));
        }
        let config = self.options.build(self.guarantee, 4)?;
        let connection =
            Connection { hosts, credentials: self.credentials, ca_certificate_pem: self.ca_certificate_pem };
        let index = SearchIndex {
            connection,
            emitter: self.emitter,
            guarantee: self.guarantee,
            policy: self.policy,
            max_retries: self.max_retries,
            connect_timeout: self.connect_timeout,
            backend: PhantomData,
        };
        Ok(AsyncSink::new(index, config))
    }
}

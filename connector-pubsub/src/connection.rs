//! Where the clients point: the emulator when `PUBSUB_EMULATOR_HOST` is set (as
//! every Google client library does; the Rust crate itself does not read it), with
//! anonymous credentials; otherwise the service with the default credential chain.

use google_cloud_auth::credentials::Credentials;
use google_cloud_gax::retry_policy::RetryPolicyExt;
use google_cloud_pubsub::client::{Publisher, Subscriber, SubscriptionAdmin};
use google_cloud_pubsub::retry_policy::RetryableErrors;

use crate::error::PubSubError;

/// How the clients reach Pub/Sub.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PubSubEndpoint {
    /// `http://host:port` of an emulator, or `None` for the service.
    pub(crate) emulator: Option<String>,
}

impl PubSubEndpoint {
    /// The emulator named by `PUBSUB_EMULATOR_HOST` (`host:port`), or the service.
    pub fn from_env() -> Self {
        match std::env::var("PUBSUB_EMULATOR_HOST") {
            Ok(host) if !host.trim().is_empty() => PubSubEndpoint::emulator(host.trim()),
            _ => PubSubEndpoint::default(),
        }
    }

    /// The emulator at `host` (`host:port`, or an `http://` URL), with anonymous
    /// credentials.
    pub fn emulator(host: &str) -> Self {
        let url = if host.starts_with("http://") || host.starts_with("https://") {
            host.to_string()
        } else {
            format!("http://{host}")
        };
        PubSubEndpoint { emulator: Some(url) }
    }

    /// Where it points, for messages.
    pub fn describe(&self) -> String {
        self.emulator.clone().unwrap_or_else(|| "the Pub/Sub service".into())
    }

    fn anonymous() -> Credentials {
        google_cloud_auth::credentials::anonymous::Builder::new().build()
    }

    fn failed<E: std::fmt::Display>(&self, client: &'static str) -> impl Fn(E) -> PubSubError + '_ {
        move |e| PubSubError::Client { client, endpoint: self.describe(), message: e.to_string() }
    }

    pub(crate) async fn subscriber(&self) -> Result<Subscriber, PubSubError> {
        let mut builder = Subscriber::builder();
        if let Some(url) = &self.emulator {
            builder = builder.with_endpoint(url).with_credentials(Self::anonymous());
        }
        builder.build().await.map_err(self.failed("subscriber"))
    }

    pub(crate) async fn subscription_admin(&self) -> Result<SubscriptionAdmin, PubSubError> {
        let mut builder = SubscriptionAdmin::builder();
        if let Some(url) = &self.emulator {
            builder = builder.with_endpoint(url).with_credentials(Self::anonymous());
        }
        builder.build().await.map_err(self.failed("subscription admin"))
    }

    pub(crate) async fn publisher(
        &self,
        topic: &str,
        batching: &crate::config::Batching,
        publish_timeout: std::time::Duration,
    ) -> Result<Publisher, PubSubError> {
        // The client retries retryable failures (RESOURCE_EXHAUSTED included) for
        // 600 s by default; the sink's `publish_timeout` bounds it instead.
        let retries = RetryableErrors.with_time_limit(publish_timeout);
        let mut builder = Publisher::builder(topic)
            .set_message_count_threshold(batching.messages)
            .set_byte_threshold(batching.bytes)
            .set_delay_threshold(batching.delay)
            .with_retry_policy(retries);
        if let Some(url) = &self.emulator {
            builder = builder.with_endpoint(url).with_credentials(Self::anonymous());
        }
        builder.build().await.map_err(self.failed("publisher"))
    }
}

//! The Pub/Sub emulator of the tests (`PUBSUB_EMULATOR_HOST`, or one the testkit
//! starts), fresh topics and subscriptions on it, and the suites' targets.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use connector_base::DeliveryGuarantee;
use connector_base::schema::{JsonSchema, Utf8Schema};
use connector_pubsub::google_cloud_pubsub::client::{Publisher, Subscriber, SubscriptionAdmin, TopicAdmin};
use connector_pubsub::google_cloud_pubsub::model::Message;
use connector_pubsub::{DataOnly, PubSubEndpoint, PubSubSink, PubSubSinkBuilder, PubSubSource, PubSubSourceBuilder};
use connector_testkit::{SinkTarget, SourceTarget, TestServer, TestkitError, servers};

pub const PROJECT: &str = "flink-connectors-rs";

/// The emulator's `host:port`, or `None` to skip.
pub async fn emulator() -> Option<String> {
    let _ = tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::from_default_env()).try_init();
    Some(TestServer::discover(&servers::PUBSUB).await.unwrap()?.endpoint.clone())
}

fn anonymous() -> google_cloud_auth::credentials::Credentials {
    google_cloud_auth::credentials::anonymous::Builder::new().build()
}

/// A fresh name for `test`.
pub fn fresh(test: &str) -> String {
    format!("{test}-{}-{}", std::process::id(), fastrand::u32(..))
}

/// Create topic `topic` and, if given, subscription `subscription` on it.
pub async fn topic_and_subscription(host: &str, topic: &str, subscription: Option<&str>, exactly_once: bool) {
    let url = format!("http://{host}");
    let topics = TopicAdmin::builder().with_endpoint(&url).with_credentials(anonymous()).build().await.unwrap();
    let topic_name = format!("projects/{PROJECT}/topics/{topic}");
    topics.create_topic().set_name(&topic_name).send().await.unwrap();
    if let Some(subscription) = subscription {
        let admin =
            SubscriptionAdmin::builder().with_endpoint(&url).with_credentials(anonymous()).build().await.unwrap();
        admin
            .create_subscription()
            .set_name(format!("projects/{PROJECT}/subscriptions/{subscription}"))
            .set_topic(&topic_name)
            .set_ack_deadline_seconds(10)
            .set_enable_exactly_once_delivery(exactly_once)
            .send()
            .await
            .unwrap();
    }
}

/// Publish `ids` (as their decimal text) to `topic`, waiting for every one.
pub async fn publish(host: &str, topic: &str, ids: &[u64]) {
    let bodies: Vec<String> = ids.iter().map(u64::to_string).collect();
    publish_raw(host, topic, &bodies.iter().map(String::as_str).collect::<Vec<_>>()).await;
}

/// Publish `bodies` as they are to `topic`.
pub async fn publish_raw(host: &str, topic: &str, bodies: &[&str]) {
    let messages = bodies.iter().map(|b| Message::new().set_data(bytes::Bytes::from(b.to_string()))).collect();
    publish_messages(host, topic, messages).await;
}

/// Every message of `subscription` until none came for `quiet`, acknowledged.
pub async fn drain(host: &str, subscription: &str, quiet: Duration) -> Vec<String> {
    drain_messages(host, subscription, quiet, usize::MAX).await.iter().map(body).collect()
}

/// A message's payload as text.
pub fn body(message: &Message) -> String {
    String::from_utf8_lossy(&message.data).into_owned()
}

/// The messages of `subscription`, acknowledged, until `count` came or none came for
/// `quiet`.
pub async fn drain_messages(host: &str, subscription: &str, quiet: Duration, count: usize) -> Vec<Message> {
    let subscriber = Subscriber::builder()
        .with_endpoint(format!("http://{host}"))
        .with_credentials(anonymous())
        .build()
        .await
        .unwrap();
    let mut stream = subscriber.subscribe(format!("projects/{PROJECT}/subscriptions/{subscription}")).build();
    let mut messages = Vec::new();
    while messages.len() < count
        && let Ok(Some(received)) = tokio::time::timeout(quiet, stream.next()).await
    {
        let (message, handler) = received.unwrap();
        messages.push(message);
        handler.ack();
    }
    messages
}

/// Publish `messages` to `topic`, waiting for every one.
pub async fn publish_messages(host: &str, topic: &str, messages: Vec<Message>) {
    let publisher = Publisher::builder(format!("projects/{PROJECT}/topics/{topic}"))
        .with_endpoint(format!("http://{host}"))
        .with_credentials(anonymous())
        .build()
        .await
        .unwrap();
    let pending: Vec<_> = messages.into_iter().map(|m| publisher.publish(m)).collect();
    for published in futures::future::join_all(pending).await {
        published.unwrap();
    }
}

/// A source suite target: a fresh topic and subscription; records are published to
/// the topic.
#[derive(Clone)]
pub struct InSubscription {
    pub host: String,
    /// Where the source connects: `host`, or a fault proxy in front of it.
    pub via: String,
    pub topic: String,
    pub subscription: String,
    pub guarantee: DeliveryGuarantee,
    pub configure: fn(PubSubSourceBuilder<String>) -> PubSubSourceBuilder<String>,
}

impl InSubscription {
    pub async fn new(test: &str, guarantee: DeliveryGuarantee) -> Option<Arc<InSubscription>> {
        let host = emulator().await?;
        let (topic, subscription) = (fresh(test), fresh(&format!("{test}-sub")));
        let exactly_once = guarantee == DeliveryGuarantee::ExactlyOnce;
        topic_and_subscription(&host, &topic, Some(&subscription), exactly_once).await;
        Some(Arc::new(InSubscription { via: host.clone(), host, topic, subscription, guarantee, configure: |b| b }))
    }

    /// A target whose source connects through `via` (a fault proxy).
    pub async fn through(test: &str, guarantee: DeliveryGuarantee, via: String) -> Arc<InSubscription> {
        let mut target = Arc::unwrap_or_clone(Self::new(test, guarantee).await.expect("the emulator"));
        target.via = via;
        Arc::new(target)
    }
}

impl SourceTarget for InSubscription {
    type Source = PubSubSource<String>;

    fn guarantee(&self) -> DeliveryGuarantee {
        self.guarantee
    }

    async fn prepare(&self, ids: &[u64]) -> Result<(), TestkitError> {
        publish(&self.host, &self.topic, ids).await;
        Ok(())
    }

    fn source(&self, _bounded: bool) -> PubSubSource<String> {
        let builder = PubSubSource::builder(PROJECT, &self.subscription, DataOnly(Utf8Schema))
            .endpoint(PubSubEndpoint::emulator(&self.via))
            .delivery_guarantee(self.guarantee);
        (self.configure)(builder).build().unwrap()
    }

    fn id_of(&self, body: &String) -> u64 {
        body.parse().unwrap()
    }
}

/// A sink suite target: a fresh topic with a subscription made before the run, read
/// back afterwards.
#[derive(Clone)]
pub struct ToTopic {
    pub host: String,
    /// Where the sink connects: `host`, or a fault proxy in front of it.
    pub via: String,
    pub topic: String,
    pub subscription: String,
    pub configure: fn(PubSubSinkBuilder<u64>) -> PubSubSinkBuilder<u64>,
}

impl ToTopic {
    pub async fn new(test: &str) -> Option<Arc<ToTopic>> {
        let host = emulator().await?;
        let (topic, subscription) = (fresh(test), fresh(&format!("{test}-sub")));
        topic_and_subscription(&host, &topic, Some(&subscription), false).await;
        Some(Arc::new(ToTopic { via: host.clone(), host, topic, subscription, configure: |b| b }))
    }

    /// A target whose sink connects through `via` (a fault proxy).
    pub async fn through(test: &str, via: String) -> Arc<ToTopic> {
        let mut target = Arc::unwrap_or_clone(Self::new(test).await.expect("the emulator"));
        target.via = via;
        Arc::new(target)
    }
}

impl SinkTarget for ToTopic {
    type Record = u64;
    type Sink = PubSubSink<u64>;

    fn guarantee(&self) -> DeliveryGuarantee {
        DeliveryGuarantee::AtLeastOnce
    }

    fn record(&self, id: u64) -> u64 {
        id
    }

    fn sink(&self) -> PubSubSink<u64> {
        let builder = PubSubSink::builder(PROJECT, &self.topic, JsonSchema::<u64>::new())
            .endpoint(PubSubEndpoint::emulator(&self.via));
        (self.configure)(builder).build().unwrap()
    }

    async fn read_back(&self) -> Result<Vec<u64>, TestkitError> {
        let bodies = drain(&self.host, &self.subscription, Duration::from_secs(2)).await;
        bodies.iter().map(|b| b.parse().map_err(|e| TestkitError::Target(format!("{b:?}: {e}")))).collect()
    }
}

//! Helpers shared by the connector-pulsar tests: the broker (always reached through
//! the testkit's Pulsar proxy, which adds the message checksum pulsar-lite leaves
//! out), fresh topics, reading a topic back, and the suite targets.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use connector_base::DeliveryGuarantee;
use connector_pulsar::pulsar::consumer::InitialPosition;
use connector_pulsar::pulsar::{ConsumerOptions, Pulsar, SubType, TokioExecutor};
use connector_pulsar::{PulsarSink, PulsarSinkBuilder, Utf8Schema};
use connector_testkit::proxy::FaultProxy;
use connector_testkit::{SinkTarget, TestServer, TestkitError, servers};
use futures::StreamExt;

/// The broker behind a Pulsar proxy of the testkit: `(proxy, its URL)`, or `None`
/// to skip (a failure with `CONNECTOR_TESTS_REQUIRE_SERVICES=1`).
pub async fn server() -> Option<(FaultProxy, String)> {
    let endpoint = TestServer::discover(&servers::PULSAR).await.unwrap()?.endpoint.clone();
    let address = endpoint.trim_start_matches("pulsar://");
    let upstream = tokio::net::lookup_host(address).await.unwrap().next().unwrap();
    let proxy = FaultProxy::start_pulsar(upstream).await.unwrap();
    let url = format!("pulsar://{}", proxy.addr());
    Some((proxy, url))
}

/// A fresh topic named after `name` (created with 3 partitions on first use).
pub fn topic(name: &str) -> String {
    format!("persistent://public/default/test-{name}-{}-{}", std::process::id(), fastrand::u32(..))
}

/// Every message of `topic`, read from the earliest by a fresh subscription until
/// none comes for a second.
pub async fn read_topic(url: &str, topic: &str) -> Result<Vec<String>, String> {
    let client: Pulsar<TokioExecutor> =
        Pulsar::builder(url, TokioExecutor).build().await.map_err(|e| format!("connect: {e}"))?;
    let mut consumer = client
        .consumer()
        .with_topic(topic)
        .with_subscription(format!("read-back-{}", fastrand::u64(..)))
        .with_subscription_type(SubType::Exclusive)
        .with_options(ConsumerOptions::default().with_initial_position(InitialPosition::Earliest))
        .build::<Vec<u8>>()
        .await
        .map_err(|e| format!("consumer: {e}"))?;
    let mut found = Vec::new();
    while let Ok(next) = tokio::time::timeout(Duration::from_secs(1), consumer.next()).await {
        let Some(message) = next else { break };
        let message = message.map_err(|e| format!("read: {e}"))?;
        found.push(String::from_utf8_lossy(&message.payload.data).into_owned());
    }
    let _ = consumer.close().await;
    Ok(found)
}

/// The sink writes id `i` as the text `i` to a fresh topic, keyed by `i % 7`.
pub struct ToPulsar {
    pub proxy: FaultProxy,
    pub url: String,
    pub topic: String,
}

impl ToPulsar {
    pub async fn new(name: &str) -> Option<Arc<ToPulsar>> {
        let (proxy, url) = server().await?;
        Some(Arc::new(ToPulsar { proxy, url, topic: topic(name) }))
    }

    pub fn builder(&self) -> PulsarSinkBuilder<String> {
        PulsarSinkBuilder::new(&self.url, &self.topic, Utf8Schema)
            .key(|id: &String| Some((id.parse::<u64>().unwrap_or(0) % 7).to_string()))
    }
}

impl SinkTarget for ToPulsar {
    type Record = String;
    type Sink = PulsarSink<String>;

    fn guarantee(&self) -> DeliveryGuarantee {
        DeliveryGuarantee::AtLeastOnce
    }

    fn record(&self, id: u64) -> String {
        id.to_string()
    }

    fn sink(&self) -> PulsarSink<String> {
        self.builder().build().unwrap()
    }

    async fn read_back(&self) -> Result<Vec<u64>, TestkitError> {
        let texts = read_topic(&self.url, &self.topic).await.map_err(TestkitError::Target)?;
        texts.iter().map(|t| t.parse::<u64>().map_err(|e| TestkitError::Target(format!("{t:?}: {e}")))).collect()
    }
}

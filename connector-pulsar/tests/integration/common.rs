//! Helpers shared by the connector-pulsar tests: the broker (always reached through
//! the testkit's Pulsar proxy, which adds the message checksum pulsar-lite leaves
//! out), fresh topics, reading a topic back, and the suite targets.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use connector_base::DeliveryGuarantee;
use connector_pulsar::pulsar::consumer::InitialPosition;
use connector_pulsar::pulsar::producer::ProducerOptions;
use connector_pulsar::pulsar::{ConsumerOptions, Pulsar, SubType, TokioExecutor};
use connector_pulsar::{PulsarSink, PulsarSinkBuilder, Utf8Schema};
use connector_testkit::proxy::FaultProxy;
use connector_testkit::{SinkTarget, TestServer, TestkitError, servers};
use futures::StreamExt;

/// The broker behind a Pulsar proxy of the testkit: `(proxy, its URL)`, or `None`
/// to skip (a failure with `CONNECTOR_TESTS_REQUIRE_SERVICES=1`).
pub async fn server() -> Option<(FaultProxy, String)> {
    let _ = tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::from_default_env()).try_init();
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
    read_subscription(url, topic, &format!("read-back-{}", fastrand::u64(..))).await
}

/// The messages `subscription` of `topic` has not acknowledged (its backlog), read
/// until none comes for a second (a new subscription starts at the earliest).
pub async fn read_subscription(url: &str, topic: &str, subscription: &str) -> Result<Vec<String>, String> {
    let client: Pulsar<TokioExecutor> =
        Pulsar::builder(url, TokioExecutor).build().await.map_err(|e| format!("connect: {e}"))?;
    // A job's consumers on this subscription may still be going away: try again.
    let mut attempts = 0;
    let mut consumer = loop {
        let building = client
            .consumer()
            .with_topic(topic)
            .with_subscription(subscription)
            .with_subscription_type(SubType::Exclusive)
            .with_options(ConsumerOptions::default().with_initial_position(InitialPosition::Earliest))
            .build::<Vec<u8>>();
        match tokio::time::timeout(Duration::from_secs(5), building).await {
            Ok(Ok(consumer)) => break consumer,
            Ok(Err(e)) if attempts >= 5 => return Err(format!("consumer: {e}")),
            Err(_) if attempts >= 5 => return Err("consumer: no answer".into()),
            _ => attempts += 1,
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let mut found = Vec::new();
    // Nothing is acknowledged here, so a reconnect of the client delivers again what
    // it delivered before: counted once by the broker's id (a message written twice
    // has two ids, and is counted twice).
    let mut seen = std::collections::HashSet::new();
    while let Ok(next) = tokio::time::timeout(Duration::from_secs(1), consumer.next()).await {
        let Some(message) = next else { break };
        let message = message.map_err(|e| format!("read: {e}"))?;
        let id = message.message_id();
        if seen.insert((message.topic.clone(), id.ledger_id, id.entry_id, id.batch_index)) {
            found.push(String::from_utf8_lossy(&message.payload.data).into_owned());
        }
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

/// Produce `ids` as text to `topic` (keyed by id, so spread over the partitions),
/// each send receipt awaited.
pub async fn produce(url: &str, topic: &str, ids: &[u64]) -> Result<(), String> {
    let client: Pulsar<TokioExecutor> =
        Pulsar::builder(url, TokioExecutor).build().await.map_err(|e| format!("connect: {e}"))?;
    let options = ProducerOptions { block_queue_if_full: true, ..ProducerOptions::default() };
    let mut producer = client
        .producer()
        .with_topic(topic)
        .with_options(options)
        .build()
        .await
        .map_err(|e| format!("producer: {e}"))?;
    let mut receipts = Vec::with_capacity(ids.len());
    for id in ids {
        let message = connector_pulsar::pulsar::producer::Message {
            payload: id.to_string().into_bytes(),
            partition_key: Some(id.to_string()),
            ..Default::default()
        };
        receipts.push(producer.send_non_blocking(message).await.map_err(|e| format!("send: {e}"))?);
    }
    for receipt in receipts {
        receipt.await.map_err(|e| format!("receipt: {e}"))?;
    }
    Ok(())
}

/// The broker's own URL (not through a proxy): where test data is produced, so that
/// network faults in the proxy never touch it.
pub async fn direct() -> String {
    TestServer::discover(&servers::PULSAR).await.unwrap().expect("the server").endpoint.clone()
}

/// The source reads a fresh topic through a fresh subscription; ids are the text.
pub struct FromPulsar {
    pub proxy: FaultProxy,
    pub url: String,
    /// Where the test data is produced.
    pub direct: String,
    pub topic: String,
    pub subscription: String,
}

impl FromPulsar {
    pub async fn new(name: &str) -> Option<Arc<FromPulsar>> {
        let (proxy, url) = server().await?;
        let subscription = format!("sub-{name}-{}", fastrand::u32(..));
        Some(Arc::new(FromPulsar { proxy, url, direct: direct().await, topic: topic(name), subscription }))
    }
}

impl connector_testkit::SourceTarget for FromPulsar {
    type Source = connector_pulsar::PulsarSource<String>;

    fn guarantee(&self) -> DeliveryGuarantee {
        DeliveryGuarantee::ExactlyOnce
    }

    async fn prepare(&self, ids: &[u64]) -> Result<(), TestkitError> {
        produce(&self.direct, &self.topic, ids).await.map_err(TestkitError::Target)
    }

    fn source(&self, bounded: bool) -> connector_pulsar::PulsarSource<String> {
        let builder = connector_pulsar::PulsarSourceBuilder::new(
            &self.url,
            [self.topic.as_str()],
            &self.subscription,
            connector_pulsar::Utf8Schema,
        );
        if bounded { builder.bounded() } else { builder }.build().unwrap()
    }

    fn id_of(&self, record: &String) -> u64 {
        record.parse().unwrap()
    }
}

/// The ids a bounded source reads in a job of its own (parallelism 1, no restart),
/// sorted; or the job's error.
pub async fn read_all(source: connector_pulsar::PulsarSource<u64>) -> Result<Vec<u64>, String> {
    use stream_core::prelude::*;
    let env = StreamEnvironment::builder().parallelism(1).restart_strategy(RestartStrategy::None).build().unwrap();
    let collected = Arc::new(std::sync::Mutex::new(Vec::new()));
    let into = collected.clone();
    let job = env
        .from_source(source, "pulsar")
        .map(move |id: u64| into.lock().unwrap().push(id))
        .sink_to(DiscardingSink::new(), "discard")
        .execute("read-all");
    tokio::time::timeout(Duration::from_secs(60), job).await.expect("no hang").map_err(|e| e.to_string())?;
    let mut ids = collected.lock().unwrap().clone();
    ids.sort_unstable();
    Ok(ids)
}

/// Every message of `topic` with where it is: (partition index, position, id), read
/// from the earliest by a fresh subscription until none comes for a second.
pub async fn read_positions(url: &str, topic: &str) -> Vec<(i32, connector_pulsar::Position, u64)> {
    let client: Pulsar<TokioExecutor> = Pulsar::builder(url, TokioExecutor).build().await.unwrap();
    let mut consumer = client
        .consumer()
        .with_topic(topic)
        .with_subscription(format!("positions-{}", fastrand::u64(..)))
        .with_subscription_type(SubType::Exclusive)
        .with_options(ConsumerOptions::default().with_initial_position(InitialPosition::Earliest))
        .build::<Vec<u8>>()
        .await
        .unwrap();
    let mut found = Vec::new();
    while let Ok(Some(message)) = tokio::time::timeout(Duration::from_secs(1), consumer.next()).await {
        let message = message.unwrap();
        let partition = message.topic.rsplit_once("-partition-").and_then(|(_, i)| i.parse().ok()).unwrap_or(-1);
        let id = String::from_utf8_lossy(&message.payload.data).parse().unwrap();
        found.push((partition, connector_pulsar::Position::of(message.message_id()), id));
    }
    found
}

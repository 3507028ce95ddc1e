//! Helpers shared by the connector-rabbitmq tests: the test broker, fresh queues,
//! publishing test ids, draining a queue, and the suite targets.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use connector_base::DeliveryGuarantee;
use connector_base::schema::Utf8Schema;
use connector_rabbitmq::lapin::options::{
    BasicGetOptions, BasicPublishOptions, ConfirmSelectOptions, QueueDeclareOptions,
};
use connector_rabbitmq::lapin::types::FieldTable;
use connector_rabbitmq::lapin::{BasicProperties, Channel, Connection, ConnectionProperties};
use connector_rabbitmq::{OutgoingMessage, RabbitMqSink, RabbitMqSinkBuilder, RabbitMqSource, RabbitMqSourceBuilder};
use connector_testkit::{SinkTarget, SourceTarget, TestServer, TestkitError, servers};

/// The test broker's URL, or `None` to skip (a failure with
/// `CONNECTOR_TESTS_REQUIRE_SERVICES=1`).
pub async fn server() -> Option<String> {
    let _ = tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::from_default_env()).try_init();
    Some(TestServer::discover(&servers::RABBITMQ).await.unwrap()?.endpoint.clone())
}

async fn channel(url: &str) -> (Connection, Channel) {
    let connection = Connection::connect(url, ConnectionProperties::default()).await.unwrap();
    let channel = connection.create_channel().await.unwrap();
    (connection, channel)
}

/// A fresh durable queue named after `name`.
pub async fn queue(url: &str, name: &str) -> String {
    let queue = format!("test-{name}-{}-{}", std::process::id(), fastrand::u32(..));
    let (_conn, ch) = channel(url).await;
    let options = QueueDeclareOptions { durable: true, ..QueueDeclareOptions::default() };
    ch.queue_declare(queue.as_str().into(), options, FieldTable::default()).await.unwrap();
    queue
}

/// Publish `ids` (body and correlation id = the id) persistently, with confirms.
/// A broker being restarted (the restart tests) is waited for, and the ids whose
/// confirm did not arrive are published again (a message stored whose confirm was lost
/// would then be there twice: rare, and it would show as a duplicate).
pub async fn publish(url: &str, queue: &str, ids: &[u64]) {
    let started = std::time::Instant::now();
    let mut left: Vec<u64> = ids.to_vec();
    while !left.is_empty() {
        assert!(started.elapsed() < std::time::Duration::from_secs(90), "could not publish to {queue} for 90 s");
        match publish_once(url, queue, &left).await {
            Ok(()) => return,
            Err(unconfirmed) => {
                // The broker may have stored some of these without confirming them:
                // re-sending them can put them in the queue twice.
                eprintln!("publish to {queue}: {} messages unconfirmed, sending them again", unconfirmed.len());
                left = unconfirmed;
                tokio::time::sleep(std::time::Duration::from_millis(250)).await;
            }
        }
    }
}

/// One attempt; `Err` holds the ids not confirmed.
async fn publish_once(url: &str, queue: &str, ids: &[u64]) -> Result<(), Vec<u64>> {
    let Ok(connection) = Connection::connect(url, ConnectionProperties::default()).await else {
        return Err(ids.to_vec());
    };
    let Ok(ch) = connection.create_channel().await else { return Err(ids.to_vec()) };
    if ch.confirm_select(ConfirmSelectOptions::default()).await.is_err() {
        return Err(ids.to_vec());
    }
    let mut confirms = Vec::with_capacity(ids.len());
    for (i, id) in ids.iter().enumerate() {
        let props = BasicProperties::default().with_delivery_mode(2).with_correlation_id(id.to_string().into());
        let body = id.to_string();
        match ch.basic_publish("".into(), queue.into(), BasicPublishOptions::default(), body.as_bytes(), props).await {
            Ok(confirm) => confirms.push((*id, confirm)),
            Err(_) => {
                let mut unconfirmed: Vec<u64> = ids[i..].to_vec();
                for (id, confirm) in confirms {
                    if !confirm.await.is_ok_and(|c| c.is_ack()) {
                        unconfirmed.push(id);
                    }
                }
                return Err(unconfirmed);
            }
        }
    }
    let mut unconfirmed = Vec::new();
    for (id, confirm) in confirms {
        if !confirm.await.is_ok_and(|c| c.is_ack()) {
            unconfirmed.push(id);
        }
    }
    if unconfirmed.is_empty() { Ok(()) } else { Err(unconfirmed) }
}

/// Take every message now in `queue` (acknowledged), as ids.
pub async fn drain(url: &str, queue: &str) -> Vec<u64> {
    let (_conn, ch) = channel(url).await;
    let mut out = Vec::new();
    while let Some(m) = ch.basic_get(queue.into(), BasicGetOptions { no_ack: true }).await.unwrap() {
        out.push(String::from_utf8_lossy(&m.delivery.data).parse().unwrap());
    }
    out
}

/// A source suite target: a fresh queue read with `guarantee`.
#[derive(Clone)]
pub struct InQueue {
    /// The broker.
    pub url: String,
    /// The queue.
    pub queue: String,
    /// The source's guarantee.
    pub guarantee: DeliveryGuarantee,
    /// Where the source connects, if not to `url` (a fault proxy).
    pub via: Option<String>,
    /// Options of the source beyond the suite's.
    pub configure: fn(RabbitMqSourceBuilder<String>) -> RabbitMqSourceBuilder<String>,
}

impl InQueue {
    /// A fresh queue on the test broker, or `None` to skip.
    pub async fn new(name: &str, guarantee: DeliveryGuarantee) -> Option<Arc<InQueue>> {
        let url = server().await?;
        Some(InQueue::at(url, name, guarantee).await)
    }

    /// A fresh queue on the broker at `url`.
    pub async fn at(url: String, name: &str, guarantee: DeliveryGuarantee) -> Arc<InQueue> {
        let queue = queue(&url, name).await;
        Arc::new(InQueue { url, queue, guarantee, via: None, configure: |b| b })
    }

    /// A fresh queue on the broker at `url`, read through `via`.
    pub async fn through(url: String, via: String, name: &str, guarantee: DeliveryGuarantee) -> Arc<InQueue> {
        let queue = queue(&url, name).await;
        Arc::new(InQueue { url, queue, guarantee, via: Some(via), configure: |b| b })
    }
}

impl SourceTarget for InQueue {
    type Source = RabbitMqSource<String>;

    fn guarantee(&self) -> DeliveryGuarantee {
        self.guarantee
    }

    async fn prepare(&self, ids: &[u64]) -> Result<(), TestkitError> {
        publish(&self.url, &self.queue, ids).await;
        Ok(())
    }

    fn source(&self, _bounded: bool) -> RabbitMqSource<String> {
        let builder = RabbitMqSource::builder(self.via.as_ref().unwrap_or(&self.url), &self.queue, Utf8Schema)
            .delivery_guarantee(self.guarantee)
            .use_correlation_ids(true)
            .prefetch(200);
        (self.configure)(builder).build().unwrap()
    }

    fn id_of(&self, body: &String) -> u64 {
        body.parse().unwrap()
    }
}

/// A sink suite target: a fresh queue the sink publishes to, drained afterwards.
#[derive(Clone)]
pub struct OutQueue {
    /// The broker.
    pub url: String,
    /// The queue.
    pub queue: String,
    /// Where the sink connects, if not to `url` (a fault proxy).
    pub via: Option<String>,
    /// Options of the sink beyond the suite's.
    pub configure: fn(RabbitMqSinkBuilder<u64>) -> RabbitMqSinkBuilder<u64>,
}

impl OutQueue {
    /// A fresh queue on the test broker, or `None` to skip.
    pub async fn new(name: &str) -> Option<Arc<OutQueue>> {
        let url = server().await?;
        Some(OutQueue::at(url, name).await)
    }

    /// A fresh queue on the broker at `url`.
    pub async fn at(url: String, name: &str) -> Arc<OutQueue> {
        let queue = queue(&url, name).await;
        Arc::new(OutQueue { url, queue, via: None, configure: |b| b })
    }

    /// A fresh queue on the broker at `url`, written through `via`.
    pub async fn through(url: String, via: String, name: &str) -> Arc<OutQueue> {
        let queue = queue(&url, name).await;
        Arc::new(OutQueue { url, queue, via: Some(via), configure: |b| b })
    }
}

impl SinkTarget for OutQueue {
    type Record = u64;
    type Sink = RabbitMqSink<u64>;

    fn guarantee(&self) -> DeliveryGuarantee {
        DeliveryGuarantee::AtLeastOnce
    }

    fn record(&self, id: u64) -> u64 {
        id
    }

    fn sink(&self) -> RabbitMqSink<u64> {
        let queue = self.queue.clone();
        let builder = RabbitMqSink::builder(self.via.as_ref().unwrap_or(&self.url), move |id: &u64| {
            Ok(OutgoingMessage {
                routing_key: queue.clone(),
                body: id.to_string().into_bytes(),
                correlation_id: Some(id.to_string()),
                persistent: true,
                ..OutgoingMessage::default()
            })
        });
        (self.configure)(builder).build().unwrap()
    }

    async fn read_back(&self) -> Result<Vec<u64>, TestkitError> {
        Ok(drain(&self.url, &self.queue).await)
    }
}

/// The queue's ready messages and consumers (a passive declare).
pub async fn queue_counts(url: &str, queue: &str) -> (u32, u32) {
    let (_conn, ch) = channel(url).await;
    let options = QueueDeclareOptions { passive: true, ..QueueDeclareOptions::default() };
    let q = ch.queue_declare(queue.into(), options, FieldTable::default()).await.unwrap();
    (q.message_count(), q.consumer_count())
}

/// `queue_counts` once the queue has no consumer (within 10 s): a cancelled job's
/// connection closes in the background, and its close requeues what it held.
pub async fn queue_counts_once_unconsumed(url: &str, queue: &str) -> (u32, u32) {
    let waited = std::time::Instant::now();
    let mut counts = queue_counts(url, queue).await;
    while counts.1 > 0 && waited.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(50)).await;
        counts = queue_counts(url, queue).await;
    }
    counts
}

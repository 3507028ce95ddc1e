//! Helpers shared by the connector-kafka tests: fresh topics, producing, reading a
//! topic back as a `read_committed` consumer.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use connector_base::schema::Utf8Schema;
use connector_kafka::rdkafka::ClientConfig;
use connector_kafka::rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use connector_kafka::rdkafka::client::DefaultClientContext;
use connector_kafka::rdkafka::consumer::{BaseConsumer, Consumer};
use connector_kafka::rdkafka::message::{BorrowedMessage, Message};
use connector_kafka::rdkafka::producer::{FutureProducer, FutureRecord};
use connector_kafka::rdkafka::{Offset, TopicPartitionList};
use connector_kafka::{KafkaSource, KafkaSourceBuilder, StoppingOffsets, ValueOnly};
use connector_testkit::{TestServer, servers};
use std::sync::Arc;

/// A fresh topic with `partitions` partitions on the test broker, or `None` to skip.
pub async fn topic(name: &str, partitions: i32) -> Option<(String, String)> {
    let _ = tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::from_default_env()).try_init();
    let server = TestServer::discover(&servers::KAFKA).await.unwrap()?;
    let topic = create_topic(&server.endpoint, name, partitions).await;
    Some((server.endpoint.clone(), topic))
}

/// Create a fresh topic named after `name` on the broker at `bootstrap`.
pub async fn create_topic(bootstrap: &str, name: &str, partitions: i32) -> String {
    let topic = format!("{name}-{}-{}", std::process::id(), fastrand::u32(..));
    create_named_topic(bootstrap, &topic, partitions).await;
    topic
}

/// Create `topic` with `partitions` on the broker at `bootstrap`.
pub async fn create_named_topic(bootstrap: &str, topic: &str, partitions: i32) {
    let admin: AdminClient<DefaultClientContext> =
        ClientConfig::new().set("bootstrap.servers", bootstrap).create().unwrap();
    let created = admin
        .create_topics(&[NewTopic::new(topic, partitions, TopicReplication::Fixed(1))], &AdminOptions::new())
        .await
        .unwrap();
    for result in created {
        result.unwrap();
    }
}

/// An output topic the sink suite writes to and reads back `read_committed`.
#[derive(Clone)]
pub struct OutTopic {
    pub bootstrap: String,
    /// Where the sink connects, if not to `bootstrap` (a fault proxy).
    pub via: Option<String>,
    pub topic: String,
    pub partitions: i32,
    pub guarantee: connector_base::DeliveryGuarantee,
    /// Options of the sink beyond the suite's.
    pub configure: fn(connector_kafka::KafkaSinkBuilder<String>) -> connector_kafka::KafkaSinkBuilder<String>,
}

impl connector_testkit::SinkTarget for OutTopic {
    type Record = String;
    type Sink = connector_kafka::KafkaSink<String>;

    fn guarantee(&self) -> connector_base::DeliveryGuarantee {
        self.guarantee
    }

    fn record(&self, id: u64) -> String {
        format!("record-{id}")
    }

    fn sink(&self) -> connector_kafka::KafkaSink<String> {
        let values = connector_kafka::ValueTo::new(&self.topic, connector_base::schema::Utf8Schema);
        let builder = connector_kafka::KafkaSink::builder(self.via.as_ref().unwrap_or(&self.bootstrap), values)
            .delivery_guarantee(self.guarantee)
            .transactional_id_prefix(&self.topic)
            .property("linger.ms", "5");
        (self.configure)(builder).build().unwrap()
    }

    async fn read_back(&self) -> Result<Vec<u64>, connector_testkit::TestkitError> {
        let (bootstrap, topic, partitions) = (self.bootstrap.clone(), self.topic.clone(), self.partitions);
        let values = tokio::task::spawn_blocking(move || read_committed(&bootstrap, &topic, partitions)).await.unwrap();
        Ok(values.iter().map(|v| v.trim_start_matches("record-").parse().unwrap()).collect())
    }
}

pub fn producer(bootstrap: &str) -> FutureProducer {
    ClientConfig::new().set("bootstrap.servers", bootstrap).set("linger.ms", "5").create().unwrap()
}

pub async fn produce(producer: &FutureProducer, topic: &str, values: impl IntoIterator<Item = (String, String)>) {
    let sends: Vec<_> = values
        .into_iter()
        .map(|(key, value)| {
            let producer = producer.clone();
            let topic = topic.to_string();
            async move {
                producer
                    .send(FutureRecord::to(&topic).key(&key).payload(&value), Duration::from_secs(10))
                    .await
                    .map_err(|(e, _)| e)
                    .unwrap();
            }
        })
        .collect();
    futures::future::join_all(sends).await;
}

/// Write `values` to `topic` as fast as librdkafka batches them (a million in seconds).
pub fn produce_fast(bootstrap: &str, topic: &str, values: impl IntoIterator<Item = String>) {
    produce_fast_to(bootstrap, topic, values, |_, _| None);
}

/// As [`produce_fast`], value `i` to partition `i % partitions`: keyless records
/// otherwise stick to one partition per batch, and a fast run can put every record in
/// one partition.
pub fn produce_round_robin(bootstrap: &str, topic: &str, partitions: i32, values: impl IntoIterator<Item = String>) {
    produce_fast_to(bootstrap, topic, values, |i, _| Some(i as i32 % partitions));
}

/// As [`produce_fast`], each value to the partition `partition` names for it.
pub fn produce_partitioned(
    bootstrap: &str,
    topic: &str,
    values: impl IntoIterator<Item = String>,
    partition: impl Fn(&str) -> i32,
) {
    produce_fast_to(bootstrap, topic, values, |_, value| Some(partition(value)));
}

fn produce_fast_to(
    bootstrap: &str,
    topic: &str,
    values: impl IntoIterator<Item = String>,
    partition: impl Fn(usize, &str) -> Option<i32>,
) {
    use connector_kafka::rdkafka::producer::{BaseProducer, BaseRecord, Producer};
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("linger.ms", "20")
        .set("batch.num.messages", "10000")
        .set("queue.buffering.max.messages", "500000")
        .create()
        .unwrap();
    for (i, value) in values.into_iter().enumerate() {
        let mut record = BaseRecord::<(), String>::to(topic).payload(&value);
        if let Some(p) = partition(i, &value) {
            record = record.partition(p);
        }
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((_, back)) => {
                    record = back;
                    producer.poll(Duration::from_millis(10));
                }
            }
        }
    }
    producer.flush(Duration::from_secs(120)).unwrap();
}

/// Every value of `topic` (all `partitions`) visible to a `read_committed` consumer now.
pub fn read_committed(bootstrap: &str, topic: &str, partitions: i32) -> Vec<String> {
    read_committed_until(bootstrap, topic, partitions, None)
}

/// What a `read_committed` consumer of `topic` sees until every partition ended or, with
/// `idle`, until nothing came for that long: a transaction left open by a killed process
/// (noida-db does not time transactions out) holds the end back until it is fenced.
pub fn read_committed_until(bootstrap: &str, topic: &str, partitions: i32, idle: Option<Duration>) -> Vec<String> {
    read_all(bootstrap, topic, partitions, "read_committed", idle, |m| {
        String::from_utf8_lossy(m.payload().unwrap_or_default()).into_owned()
    })
}

/// `each` of every record of `topic` (all `partitions`) a consumer with `isolation`
/// sees, until every partition ended or, with `idle`, until nothing came for that long.
pub fn read_all<R>(
    bootstrap: &str,
    topic: &str,
    partitions: i32,
    isolation: &str,
    idle: Option<Duration>,
    mut each: impl FnMut(&BorrowedMessage<'_>) -> R,
) -> Vec<R> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", format!("{topic}-verify-{}", fastrand::u32(..)))
        .set("enable.auto.commit", "false")
        .set("isolation.level", isolation)
        .set("enable.partition.eof", "true")
        .create()
        .unwrap();
    let mut list = TopicPartitionList::new();
    for p in 0..partitions {
        list.add_partition_offset(topic, p, Offset::Beginning).unwrap();
    }
    consumer.assign(&list).unwrap();
    let (mut ended, mut values) = (std::collections::BTreeSet::new(), Vec::new());
    let (started, mut last) = (Instant::now(), Instant::now());
    while ended.len() < partitions as usize {
        if idle.is_some_and(|idle| last.elapsed() >= idle) {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "reading {topic} back took over 60 s");
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(m)) => {
                last = Instant::now();
                values.push(each(&m));
            }
            Some(Err(connector_kafka::rdkafka::error::KafkaError::PartitionEOF(p))) => {
                ended.insert(p);
            }
            Some(Err(e)) => panic!("reading {topic}: {e}"),
            None => {}
        }
    }
    values
}

/// A source suite target: a fresh topic of 3 partitions, read through `via` if set.
#[derive(Clone)]
pub struct InTopic {
    pub bootstrap: String,
    pub topic: String,
    pub producer: FutureProducer,
    /// Where the source connects, if not to `bootstrap` (a fault proxy).
    pub via: Option<String>,
    /// Options of the source beyond the suite's.
    pub configure: fn(KafkaSourceBuilder<String>) -> KafkaSourceBuilder<String>,
}

impl InTopic {
    pub async fn new(name: &str) -> Option<Arc<InTopic>> {
        let (bootstrap, topic) = topic(name, 3).await?;
        Some(Arc::new(InTopic { producer: producer(&bootstrap), bootstrap, topic, via: None, configure: |b| b }))
    }
}

impl connector_testkit::SourceTarget for InTopic {
    type Source = KafkaSource<String>;

    fn guarantee(&self) -> connector_base::DeliveryGuarantee {
        connector_base::DeliveryGuarantee::ExactlyOnce
    }

    async fn prepare(&self, ids: &[u64]) -> Result<(), connector_testkit::TestkitError> {
        produce(&self.producer, &self.topic, ids.iter().map(|id| (id.to_string(), format!("record-{id}")))).await;
        Ok(())
    }

    fn source(&self, bounded: bool) -> KafkaSource<String> {
        let builder = KafkaSource::builder(self.via.as_ref().unwrap_or(&self.bootstrap), ValueOnly(Utf8Schema))
            .topics([self.topic.clone()])
            .group_id(format!("{}-group", self.topic))
            .max_records_per_poll(50)
            .partition_discovery_interval(Some(Duration::from_millis(200)));
        let builder = if bounded { builder.bounded(StoppingOffsets::Latest) } else { builder };
        (self.configure)(builder).build().unwrap()
    }

    fn id_of(&self, line: &String) -> u64 {
        line.trim_start_matches("record-").parse().unwrap()
    }
}

/// The source of the Kafka -> Kafka jobs: `input` read to its current end, 100 records
/// a poll.
pub fn bounded_source(bootstrap: &str, input: &str) -> KafkaSource<String> {
    KafkaSource::builder(bootstrap, ValueOnly(Utf8Schema))
        .topics([input])
        .group_id(format!("{input}-job"))
        .bounded(StoppingOffsets::Latest)
        .max_records_per_poll(100)
        .build()
        .unwrap()
}

/// The exactly-once sink of the Kafka -> Kafka jobs into `output`.
pub fn exactly_once_sink(bootstrap: &str, output: &str) -> connector_kafka::KafkaSink<String> {
    connector_kafka::KafkaSink::builder(bootstrap, connector_kafka::ValueTo::new(output, Utf8Schema))
        .delivery_guarantee(connector_base::DeliveryGuarantee::ExactlyOnce)
        .transactional_id_prefix(format!("{output}-job"))
        .build()
        .unwrap()
}

/// How often each value of `values` appears.
pub fn count_each(values: Vec<String>) -> std::collections::BTreeMap<String, usize> {
    let mut seen = std::collections::BTreeMap::new();
    for value in values {
        *seen.entry(value).or_default() += 1;
    }
    seen
}

/// `(lost, duplicated)` of the values `RECORD-0` to `RECORD-<n-1>` in `seen`.
pub fn lost_and_duplicated(seen: &std::collections::BTreeMap<String, usize>, n: u64) -> (usize, usize) {
    let lost = (0..n).filter(|i| !seen.contains_key(&format!("RECORD-{i}"))).count();
    (lost, seen.values().map(|count| count.saturating_sub(1)).sum())
}

/// A tracing writer that keeps what was written.
#[derive(Clone, Default)]
pub struct Captured(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    /// Everything written so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// Keep the process's log lines that `filter` lets through. librdkafka calls back
/// from its own threads and producers are initialised on blocking threads: only a
/// process-wide subscriber sees them, and it also takes the `log` crate's records, as
/// a user's set-up does. `None` when the process has one already (several tests in
/// one process under `cargo test`; nextest runs each test in a process of its own).
pub fn capture_process_logs(filter: &str) -> Option<Captured> {
    let captured = Captured::default();
    let writer = captured.clone();
    let installed = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .try_init()
        .is_ok();
    assert!(
        installed || std::env::var_os("NEXTEST_RUN_ID").is_none(),
        "nextest runs each test in a process of its own"
    );
    installed.then_some(captured)
}

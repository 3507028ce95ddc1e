//! Kafka helpers of the end-to-end tests: fresh topics, producing, reading a topic
//! back as a `read_committed` consumer.

use std::collections::BTreeSet;
use std::time::Duration;

use connector_kafka::rdkafka::ClientConfig;
use connector_kafka::rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use connector_kafka::rdkafka::client::DefaultClientContext;
use connector_kafka::rdkafka::consumer::{BaseConsumer, Consumer};
use connector_kafka::rdkafka::message::Message;
use connector_kafka::rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use connector_kafka::rdkafka::{Offset, TopicPartitionList};

/// A fresh topic named after `name` with `partitions` partitions.
pub async fn create_topic(bootstrap: &str, name: &str, partitions: i32) -> String {
    let topic = format!("e2e-{name}-{}-{}", std::process::id(), fastrand::u32(..));
    create_named_topic(bootstrap, &topic, partitions).await;
    topic
}

/// Create `topic` with `partitions` partitions.
pub async fn create_named_topic(bootstrap: &str, topic: &str, partitions: i32) {
    let admin: AdminClient<DefaultClientContext> =
        ClientConfig::new().set("bootstrap.servers", bootstrap).create().unwrap();
    let new = NewTopic::new(topic, partitions, TopicReplication::Fixed(1));
    for result in admin.create_topics(&[new], &AdminOptions::new()).await.unwrap() {
        result.unwrap();
    }
}

/// Produce `values` (any `Display`) round-robin over the `partitions` of `topic`.
pub fn produce<V: std::fmt::Display>(bootstrap: &str, topic: &str, partitions: i32, values: impl Iterator<Item = V>) {
    let producer: BaseProducer =
        ClientConfig::new().set("bootstrap.servers", bootstrap).set("linger.ms", "10").create().unwrap();
    // Round-robin over the partitions, so each source subtask reads an equal share
    // (keyless records would go where the sticky partitioner batches them).
    for (i, x) in values.enumerate() {
        let value = x.to_string();
        let partition = (i % partitions as usize) as i32;
        let mut record = BaseRecord::<(), String>::to(topic).partition(partition).payload(&value);
        while let Err((_, back)) = producer.send(record) {
            record = back;
            producer.poll(Duration::from_millis(10));
        }
    }
    producer.flush(Duration::from_secs(60)).unwrap();
}

/// Every value a `read_committed` consumer sees in `topic` up to its end (the last
/// stable offset: a transaction left open holds it back, and the read fails after 60 s).
pub fn read_committed(bootstrap: &str, topic: &str, partitions: i32) -> Vec<String> {
    read_committed_from(bootstrap, topic, partitions, Offset::Beginning)
}

/// [`read_committed`] from `start` in every partition.
pub fn read_committed_from(bootstrap: &str, topic: &str, partitions: i32, start: Offset) -> Vec<String> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", format!("{topic}-verify-{}", fastrand::u32(..)))
        .set("enable.auto.commit", "false")
        .set("isolation.level", "read_committed")
        .set("enable.partition.eof", "true")
        .create()
        .unwrap();
    let mut list = TopicPartitionList::new();
    for p in 0..partitions {
        list.add_partition_offset(topic, p, start).unwrap();
    }
    consumer.assign(&list).unwrap();
    let (mut ended, mut values) = (BTreeSet::new(), Vec::new());
    let started = std::time::Instant::now();
    while ended.len() < partitions as usize {
        assert!(started.elapsed() < Duration::from_secs(60), "reading {topic} back took over 60 s");
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(m)) => values.push(String::from_utf8_lossy(m.payload().unwrap_or_default()).into_owned()),
            Some(Err(connector_kafka::rdkafka::error::KafkaError::PartitionEOF(p))) => {
                ended.insert(p);
            }
            Some(Err(e)) => panic!("reading {topic}: {e}"),
            None => {}
        }
    }
    values
}

/// Whether the broker at `bootstrap` hides, from a `read_committed` reader that
/// starts after an aborted transaction, the next transaction of the same
/// transactional id once it committed (a reader from the start sees it). Kafka does
/// not; noida-db 0.2.3 does: it keeps listing the aborted transaction in fetches that
/// start after its abort marker, so the client skips that producer's records until
/// another abort marker. The abort here comes from a new producer fencing the old
/// one, as after a writer process is killed.
pub async fn hides_commits_after_an_abort(bootstrap: &str) -> bool {
    use connector_kafka::rdkafka::producer::{FutureProducer, FutureRecord};
    let topic = create_topic(bootstrap, "after-abort", 1).await;
    let transactional = |id: &str| -> FutureProducer {
        let p: FutureProducer =
            ClientConfig::new().set("bootstrap.servers", bootstrap).set("transactional.id", id).create().unwrap();
        p.init_transactions(Duration::from_secs(30)).unwrap();
        p
    };
    let send = |p: &FutureProducer, value: &str| {
        let (p, topic, value) = (p.clone(), topic.clone(), value.to_string());
        async move { p.send(FutureRecord::<str, str>::to(&topic).payload(&value), Duration::from_secs(30)).await.unwrap() }
    };
    let id = format!("{topic}-tx");
    let old = tokio::task::block_in_place(|| transactional(&id));
    old.begin_transaction().unwrap();
    send(&old, "aborted").await;
    let new = tokio::task::block_in_place(|| transactional(&id));
    new.begin_transaction().unwrap();
    let first_committed = send(&new, "committed").await.offset;
    tokio::task::block_in_place(|| new.commit_transaction(Duration::from_secs(30))).unwrap();
    let (b, t) = (bootstrap.to_string(), topic.clone());
    let after_abort = Offset::Offset(first_committed);
    tokio::task::spawn_blocking(move || read_committed_from(&b, &t, 1, after_abort)).await.unwrap().is_empty()
}

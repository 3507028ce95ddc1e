//! `cargo xtask bench kafka`: our source and sink against a plain rdkafka consumer and
//! producer loop with the same client settings, on the same broker, in the same run
//! (the broker from `cargo xtask services`, or `KAFKA_BOOTSTRAP_SERVERS`).
//!
//! Prints `kafka source_ratio=<r> sink_alo_ratio=<r> sink_eos_ratio=<r>` (medians of 7
//! rounds; checkpoints every second). In each round a sink and the raw loop it is
//! compared with run back to back, in an order that alternates between rounds; the
//! reads run raw, ours, ours, raw. The exactly-once ratio is against a plain
//! transactional loop committing every second (the same client settings); the plain
//! idempotent loop's rate is printed beside it. `BENCH_RECORDS` (default 4 000 000: a
//! write then spans several checkpoints, and a start-up wait of librdkafka's no longer
//! decides a round; at 1 000 000 a write ended within two checkpoints) and
//! `BENCH_CHECKPOINT_MS` (default 1000) change the run, `BENCH_ROUNDS` the rounds;
//! `BENCH_ONLY=source,alo,eos` (any of them) measures only those parts (for profiling).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use connector_base::DeliveryGuarantee;
use connector_base::schema::Utf8Schema;
use connector_kafka::rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use connector_kafka::rdkafka::client::DefaultClientContext;
use connector_kafka::rdkafka::consumer::{Consumer, StreamConsumer};
use connector_kafka::rdkafka::error::{KafkaError, RDKafkaErrorCode};
use connector_kafka::rdkafka::producer::{FutureProducer, FutureRecord};
use connector_kafka::rdkafka::{ClientConfig, Offset, TopicPartitionList, message::Message};
use connector_kafka::{KafkaSink, KafkaSource, StoppingOffsets, ValueOnly, ValueTo};
use connector_testkit::bench;
use stream_core::prelude::*;

const PARTITIONS: i32 = 2;

const DEFAULT_RECORDS: u64 = 4_000_000;

/// noida-db answers a fetch with all it has, past `fetch.max.bytes` (152 MB at
/// 4 000 000 records): both consumers accept that much.
const RECEIVE_MAX: &str = "500000000";

/// Single rounds vary by +-30 % on a 2-core machine that runs the broker too: the
/// medians of 5 rounds still moved by 0.2 from run to run.
const DEFAULT_ROUNDS: usize = 7;

fn line(i: u64) -> String {
    format!("{i:012} the quick brown fox jumps over the lazy dog {:08x}", i.wrapping_mul(0x9e37_79b9))
}

async fn topic(bootstrap: &str, name: &str) -> String {
    let topic = format!("bench-{name}-{}-{}", std::process::id(), fastrand::u32(..));
    let admin: AdminClient<DefaultClientContext> =
        ClientConfig::new().set("bootstrap.servers", bootstrap).create().unwrap();
    for r in admin
        .create_topics(&[NewTopic::new(&topic, PARTITIONS, TopicReplication::Fixed(1))], &AdminOptions::new())
        .await
        .unwrap()
    {
        r.unwrap();
    }
    topic
}

/// Delete `topics` (failures are printed, not fatal).
async fn drop_topics(bootstrap: &str, topics: &[&str]) {
    let admin: AdminClient<DefaultClientContext> =
        ClientConfig::new().set("bootstrap.servers", bootstrap).create().unwrap();
    for r in admin.delete_topics(topics, &AdminOptions::new()).await.unwrap() {
        if let Err((topic, e)) = r {
            eprintln!("could not delete {topic}: {e}");
        }
    }
}

fn env(interval: Duration) -> StreamEnvironment {
    StreamEnvironment::builder()
        .checkpointing(CheckpointConfig::builder().interval(interval).build().unwrap())
        .build()
        .unwrap()
}

/// Records/s of a plain producer loop (acks=all, idempotent, linger 5 ms); with
/// `transactional`, the same settings plus a transactional id, committing a transaction
/// every second (what the exactly-once sink does per checkpoint).
async fn raw_produce(bootstrap: &str, topic: &str, n: u64, transactional: bool) -> f64 {
    use connector_kafka::rdkafka::producer::Producer;
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", bootstrap)
        .set("acks", "all")
        .set("enable.idempotence", "true")
        .set("linger.ms", "5");
    if transactional {
        config.set("transactional.id", format!("{topic}-raw-tx"));
    }
    // Timed from the producer's creation, as our sink's run includes creating its
    // producers (and initialising the transactional one).
    let started = Instant::now();
    let producer: FutureProducer = config.create().unwrap();
    if transactional {
        producer.init_transactions(Duration::from_secs(30)).unwrap();
        producer.begin_transaction().unwrap();
    }
    let mut last_commit = Instant::now();
    let mut pending = Vec::new();
    for i in 0..n {
        let value = line(i);
        loop {
            match producer.send_result(FutureRecord::<(), str>::to(topic).payload(&value)) {
                Ok(f) => {
                    pending.push(f);
                    break;
                }
                Err(_) => {
                    let half = pending.len().div_ceil(2);
                    for f in pending.drain(..half) {
                        f.await.unwrap().unwrap();
                    }
                }
            }
        }
        if transactional && last_commit.elapsed() >= Duration::from_secs(1) {
            for f in pending.drain(..) {
                f.await.unwrap().unwrap();
            }
            producer.commit_transaction(Duration::from_secs(30)).unwrap();
            producer.begin_transaction().unwrap();
            last_commit = Instant::now();
        }
    }
    for f in pending {
        f.await.unwrap().unwrap();
    }
    if transactional {
        producer.commit_transaction(Duration::from_secs(30)).unwrap();
    }
    n as f64 / started.elapsed().as_secs_f64()
}

/// Records/s of our sink writing the same lines.
async fn our_sink(bootstrap: &str, topic: &str, n: u64, guarantee: DeliveryGuarantee) -> f64 {
    let sink = KafkaSink::builder(bootstrap, ValueTo::new(topic, Utf8Schema))
        .delivery_guarantee(guarantee)
        .transactional_id_prefix(format!("{topic}-tx"))
        .property("linger.ms", "5")
        .build()
        .unwrap();
    let interval = bench::checkpoint_interval(Duration::from_secs(1));
    let started = Instant::now();
    env(interval)
        .from_source(CollectionSource::from_fn(n, line), "lines")
        .sink_to(sink, "kafka")
        .execute("bench-sink")
        .await
        .unwrap();
    n as f64 / started.elapsed().as_secs_f64()
}

/// Records/s of a plain consumer loop reading `n` records into Strings.
async fn raw_consume(bootstrap: &str, topic: &str, n: u64) -> f64 {
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", format!("{topic}-raw"))
        .set("enable.auto.commit", "false")
        .set("isolation.level", "read_committed")
        .set("receive.message.max.bytes", RECEIVE_MAX)
        .create()
        .unwrap();
    let mut list = TopicPartitionList::new();
    for p in 0..PARTITIONS {
        list.add_partition_offset(topic, p, Offset::Beginning).unwrap();
    }
    consumer.assign(&list).unwrap();
    let started = Instant::now();
    let mut read = 0;
    while read < n {
        let next = tokio::time::timeout(Duration::from_secs(60), consumer.recv()).await;
        let m = match next.unwrap_or_else(|_| panic!("raw consumer: no record for 60 s after {read}")) {
            Ok(m) => m,
            // Reported once while librdkafka's metadata does not know a partition of
            // the new topic yet (it once ended a run); the consumer fetches it later.
            Err(KafkaError::MessageConsumption(RDKafkaErrorCode::UnknownPartition)) => continue,
            Err(e) => panic!("raw consumer: {e}"),
        };
        std::hint::black_box(String::from_utf8_lossy(m.payload().unwrap_or_default()).into_owned());
        read += 1;
    }
    n as f64 / started.elapsed().as_secs_f64()
}

/// Records/s of our bounded source reading the topic into a discarding sink.
async fn our_source(bootstrap: &str, topic: &str, n: u64) -> f64 {
    let source = KafkaSource::builder(bootstrap, ValueOnly(Utf8Schema))
        .topics([topic.to_string()])
        .bounded(StoppingOffsets::Latest)
        .property("receive.message.max.bytes", RECEIVE_MAX)
        .build()
        .unwrap();
    let started = Instant::now();
    env(Duration::from_secs(1))
        .from_source(source, "kafka")
        .sink_to(DiscardingSink::new(), "discard")
        .execute("bench-source")
        .await
        .unwrap();
    n as f64 / started.elapsed().as_secs_f64()
}

fn main() {
    // `RUST_LOG=connector_kafka=debug` shows where a pre-commit spends its time.
    let _ = tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::from_default_env()).try_init();
    let bootstrap = bench::endpoint("KAFKA_BOOTSTRAP_SERVERS", "kafka");
    let n = bench::records(DEFAULT_RECORDS);
    let only = std::env::var("BENCH_ONLY").ok();
    let runs = |part: &str| only.as_deref().is_none_or(|only| only.split(',').any(|p| p == part));
    let rounds = bench::rounds(DEFAULT_ROUNDS);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let (mut source, mut alo, mut eos) = (Vec::new(), Vec::new(), Vec::new());
    runtime.block_on(async {
        for round in 0..rounds {
            let (raw_topic, alo_topic, eos_topic) =
                (topic(&bootstrap, "raw").await, topic(&bootstrap, "alo").await, topic(&bootstrap, "eos").await);
            let raw_tx_topic = topic(&bootstrap, "raw-tx").await;
            // Each pair runs back to back, and which of the two goes first alternates
            // from round to round: the broker's rate drifts as its log grows.
            // The raw loop also writes the records the reads read.
            let (raw_p, alo_p) = if runs("alo") {
                bench::pair(
                    round,
                    raw_produce(&bootstrap, &raw_topic, n, false),
                    our_sink(&bootstrap, &alo_topic, n, DeliveryGuarantee::AtLeastOnce),
                )
                .await
            } else if runs("source") {
                (raw_produce(&bootstrap, &raw_topic, n, false).await, f64::NAN)
            } else {
                (f64::NAN, f64::NAN)
            };
            let (raw_tx, eos_p) = if !runs("eos") {
                (f64::NAN, f64::NAN)
            } else {
                bench::pair(
                    round,
                    raw_produce(&bootstrap, &raw_tx_topic, n, true),
                    our_sink(&bootstrap, &eos_topic, n, DeliveryGuarantee::ExactlyOnce),
                )
                .await
            };
            // Reads run raw, ours, ours, raw: the first read after the writes was seen to be
            // up to 1.6x the second, whichever side it was.
            let (raw_c, our_c) = if runs("source") {
                bench::abba(|| raw_consume(&bootstrap, &raw_topic, n), || our_source(&bootstrap, &raw_topic, n)).await
            } else {
                (f64::NAN, f64::NAN)
            };
            eprintln!(
                "round {round}: produce raw {raw_p:.0}/s ours-alo {alo_p:.0}/s; transactional raw {raw_tx:.0}/s \
                 ours-eos {eos_p:.0}/s; consume raw {raw_c:.0}/s ours {our_c:.0}/s ({n} records)"
            );
            // noida-db keeps topics in memory: 3 rounds of 4 topics grew it past 20 GB
            // and the kernel killed it. Drop the round's topics.
            let markers = format!("{eos_topic}-tx-commit-markers");
            drop_topics(&bootstrap, &[&raw_topic, &raw_tx_topic, &alo_topic, &eos_topic, &markers]).await;
            source.push(our_c / raw_c);
            alo.push(alo_p / raw_p);
            eos.push(eos_p / raw_tx);
        }
    });
    println!(
        "kafka {} {} {}",
        bench::figure("source_ratio", &source),
        bench::figure("sink_alo_ratio", &alo),
        bench::figure("sink_eos_ratio", &eos)
    );
}

//! KafkaSink against a real broker: the testkit sink suite for each guarantee with
//! crashes (exactly-once also with a crash at every protocol point, including after a
//! checkpoint completed and before its transaction was committed, and in the middle
//! of the commit), read back with a `read_committed` consumer.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use common::OutTopic;
use connector_base::DeliveryGuarantee;
use connector_base::schema::Utf8Schema;
use connector_kafka::{KafkaSink, ValueTo};
use connector_testkit::{SuiteConfig, run_sink_suite};

const PARTITIONS: i32 = 3;

async fn out_topic(name: &str, guarantee: DeliveryGuarantee) -> Option<Arc<OutTopic>> {
    let (bootstrap, topic) = common::topic(name, PARTITIONS).await?;
    Some(Arc::new(OutTopic { bootstrap, via: None, topic, partitions: PARTITIONS, guarantee, configure: |b| b }))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exactly_once_with_a_crash_at_every_protocol_point() {
    let Some(target) = out_topic("eos-points", DeliveryGuarantee::ExactlyOnce).await else { return };
    // Checkpoints 200 ms apart at 5 000 records/s: every checkpoint (also the first
    // after a restart) holds records, so the commit-phase crashes hit transactions
    // with data (seen in the log: "writing its records again ... records=<n>").
    let config = SuiteConfig {
        checkpoint_interval: Duration::from_millis(200),
        records_per_second: 5_000.0,
        ..SuiteConfig::sink_crash_at_every_point()
    };
    let verdict = run_sink_suite(target, config).await.unwrap();
    assert_eq!(verdict.crashes, 4, "{verdict}");
    verdict.check(DeliveryGuarantee::ExactlyOnce).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exactly_once_across_random_crashes() {
    let Some(target) = out_topic("eos-random", DeliveryGuarantee::ExactlyOnce).await else { return };
    let verdict = run_sink_suite(target, SuiteConfig { crashes: 4, ..SuiteConfig::default() }).await.unwrap();
    assert!(verdict.crashes >= 1, "{verdict}");
    verdict.check(DeliveryGuarantee::ExactlyOnce).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_least_once_across_random_crashes() {
    let Some(target) = out_topic("alo", DeliveryGuarantee::AtLeastOnce).await else { return };
    let verdict = run_sink_suite(target, SuiteConfig::default()).await.unwrap();
    assert!(verdict.crashes >= 1, "{verdict}");
    verdict.check(DeliveryGuarantee::AtLeastOnce).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_guarantee_delivers_without_crashes() {
    let Some(target) = out_topic("none", DeliveryGuarantee::None).await else { return };
    let verdict = run_sink_suite(target, SuiteConfig { crashes: 0, ..SuiteConfig::default() }).await.unwrap();
    assert_eq!((verdict.lost, verdict.duplicated), (0, 0), "{verdict}");
}

#[test]
fn invalid_sink_options_are_rejected_naming_them() {
    let err = |b: connector_kafka::KafkaSinkBuilder<String>| b.build().err().map(|e| e.to_string()).unwrap_or_default();
    let base = || KafkaSink::builder("127.0.0.1:9092", ValueTo::new("t", Utf8Schema));
    assert!(err(base().delivery_guarantee(DeliveryGuarantee::ExactlyOnce)).contains("`transactional_id_prefix`"));
    assert!(err(base().delivery_guarantee(DeliveryGuarantee::AtMostOnce)).contains("`delivery_guarantee`"));
    let short = base()
        .delivery_guarantee(DeliveryGuarantee::ExactlyOnce)
        .transactional_id_prefix("p")
        .transaction_timeout(Duration::from_secs(60));
    assert!(err(short).contains("`transaction_timeout` = 60s"));
    // Below librdkafka's minimum, however short the expected durations: a build error
    // naming the value and the minimum, not a run-time failure hinting at the broker.
    let tiny = base()
        .delivery_guarantee(DeliveryGuarantee::ExactlyOnce)
        .transactional_id_prefix("p")
        .expected_durations(Duration::from_millis(100), Duration::from_millis(100))
        .transaction_timeout(Duration::from_millis(500));
    let tiny = err(tiny);
    assert!(tiny.contains("`transaction_timeout` = 500ms") && tiny.contains("1 s at least"), "{tiny}");
    assert!(err(base().property("transactional.id", "x")).contains("`property` = transactional.id"));
    let exactly_once = || base().delivery_guarantee(DeliveryGuarantee::ExactlyOnce).transactional_id_prefix("p");
    assert!(err(exactly_once().transactional_id_pool_size(3)).contains("`transactional_id_pool_size` = 3"));
    assert!(err(exactly_once().transactional_id_pool_size(65)).contains("`transactional_id_pool_size` = 65"));
    assert!(exactly_once().transactional_id_pool_size(4).build().is_ok());
    let call = |d| err(exactly_once().transaction_call_timeout(d));
    assert!(call(Duration::ZERO).contains("`transaction_call_timeout` = 0ns"));
    assert!(call(Duration::from_secs(3600)).contains("`transaction_call_timeout` = 3600s"));
    assert!(exactly_once().transaction_call_timeout(Duration::from_secs(3)).build().is_ok());
}

/// A client error keeps its type all the way to the job's error: a user can match on
/// the connector's error and on librdkafka's code under it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_error_reaches_the_user_with_its_type() {
    use connector_kafka::rdkafka::error::KafkaError as RdKafkaError;
    use connector_kafka::{KafkaError, KafkaSource, ValueOnly};
    use stream_core::prelude::*;
    // librdkafka's check of the properties runs at build(): an unknown one is named there.
    let refused = KafkaSource::builder("127.0.0.1:1", ValueOnly(Utf8Schema))
        .topics(["t"])
        .property("no.such.property", "1")
        .build()
        .err()
        .unwrap();
    assert!(refused.is_permanent() && refused.to_string().contains("no.such.property=1"), "{refused}");
    // A client call that fails at run time (nothing listens on port 1) reaches the
    // user as our error with rdkafka's under it.
    let source = KafkaSource::builder("127.0.0.1:1", ValueOnly(Utf8Schema)).topics(["t"]).build().unwrap();
    let env = StreamEnvironment::builder().restart_strategy(RestartStrategy::None).build().unwrap();
    let job = env.from_source(source, "kafka-in").sink_to(DiscardingSink::new(), "discard");
    let error = tokio::time::timeout(Duration::from_secs(30), job.execute("typed")).await.unwrap().unwrap_err();
    let ours = error.find::<KafkaError>().unwrap_or_else(|| panic!("no KafkaError in {error:?}"));
    assert!(matches!(ours, KafkaError::Client { .. }), "{ours:?}");
    let client = error.find::<RdKafkaError>().unwrap_or_else(|| panic!("no rdkafka error in {error:?}"));
    assert!(matches!(client, RdKafkaError::MetadataFetch(_)), "{client:?}");
}

/// A producer whose transaction committed serves its id's next transaction (and the
/// producers that fenced our ids at start serve their first), so a job makes one
/// producer per id of its pool, not one per checkpoint. A new producer per checkpoint
/// (`init_transactions` takes up to 500 ms in librdkafka) held every pre-commit: at
/// 200-ms checkpoints the sink ran at 0.14 of a raw transactional loop, 1.00 with
/// recycling (`BENCH_CHECKPOINT_MS=200 BENCH_ONLY=eos cargo xtask bench kafka`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_transactional_id_gets_one_producer_however_many_checkpoints() {
    use stream_core::prelude::*;
    let captured = common::capture_process_logs("connector_kafka=debug");
    let Some((bootstrap, topic)) = common::topic("recycled", PARTITIONS).await else { return };
    const RECORDS: u64 = 6_000;
    let pool = 8;
    let sink = KafkaSink::builder(&bootstrap, ValueTo::new(&topic, Utf8Schema))
        .delivery_guarantee(DeliveryGuarantee::ExactlyOnce)
        .transactional_id_prefix(&topic)
        .transactional_id_pool_size(pool)
        .build()
        .unwrap();
    let env = StreamEnvironment::builder()
        .checkpointing(CheckpointConfig::builder().interval(Duration::from_millis(20)).build().unwrap())
        .build()
        .unwrap();
    let source = CollectionSource::from_fn(RECORDS, |i| format!("RECORD-{i}")).records_per_second(3_000.0).unwrap();
    let result = env.from_source(source, "records").sink_to(sink, "kafka").execute("recycled").await.unwrap();
    let (b, t) = (bootstrap.clone(), topic.clone());
    let read = tokio::task::spawn_blocking(move || common::read_committed(&b, &t, PARTITIONS)).await.unwrap();
    let seen = common::count_each(read);
    assert_eq!(common::lost_and_duplicated(&seen, RECORDS), (0, 0), "exactly once");
    assert!(result.last_checkpoint_id >= 3 * pool, "{} checkpoints, 3 rounds of the pool", result.last_checkpoint_id);
    if let Some(captured) = captured {
        let log = captured.text();
        let initialised = log.lines().filter(|l| l.contains("transactional producer initialised")).count();
        let recycled = log.lines().filter(|l| l.contains("transactional producer recycled")).count();
        assert!(
            initialised <= pool as usize + 2 && recycled as u64 >= result.last_checkpoint_id - pool,
            "{initialised} producers initialised and {recycled} recycled over {} checkpoints",
            result.last_checkpoint_id
        );
    }
}

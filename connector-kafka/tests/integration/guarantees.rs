//! KafkaSource against a real broker (`cargo xtask services up kafka`, or
//! `KAFKA_BOOTSTRAP_SERVERS`): the testkit source suites with crashes (bounded,
//! continuous, resume), records compared with what was produced; bad input gives
//! clear errors.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::{InTopic as Topic, produce, producer, topic};

use connector_base::DeliveryGuarantee;
use connector_base::schema::{BadRecordPolicy, SchemaError, Utf8Schema};
use connector_kafka::{KafkaRecord, KafkaSource, StoppingOffsets, ValueOnly};
use connector_testkit::{SuiteConfig, run_resume_source_suite, run_source_suite, run_unbounded_source_suite};
use stream_core::prelude::*;

fn config() -> SuiteConfig {
    SuiteConfig { records: 3_000, ..SuiteConfig::default() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bounded_reads_are_exactly_once_across_crashes() {
    let Some(target) = Topic::new("bounded").await else { return };
    let verdict = run_source_suite(target, config()).await.unwrap();
    assert!(verdict.crashes >= 1, "{verdict}");
    verdict.check(DeliveryGuarantee::ExactlyOnce).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unbounded_reads_pick_up_new_records_exactly_once_across_crashes() {
    let Some(target) = Topic::new("unbounded").await else { return };
    let verdict = run_unbounded_source_suite(target, config()).await.unwrap();
    verdict.check(DeliveryGuarantee::ExactlyOnce).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_job_resumes_from_its_checkpoint() {
    let Some(target) = Topic::new("resume").await else { return };
    let verdict = run_resume_source_suite(target, config()).await.unwrap();
    verdict.check(DeliveryGuarantee::ExactlyOnce).unwrap();
}

async fn run_bounded(source: KafkaSource<String>) -> stream_core::Result<Vec<String>> {
    let sink = CollectSink::new();
    StreamEnvironment::builder()
        .parallelism(1)
        .build()?
        .from_source(source, "kafka")
        .sink_to(sink.clone(), "out")
        .execute("kafka-errors")
        .await?;
    Ok(sink.committed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_topic_is_a_clear_error() {
    let Some((bootstrap, _)) = topic("exists", 1).await else { return };
    let source = KafkaSource::builder(&bootstrap, ValueOnly(Utf8Schema))
        .topics(["no-such-topic-here"])
        .bounded(StoppingOffsets::Latest)
        .build()
        .unwrap();
    let err = run_bounded(source).await.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(err.contains("topic `no-such-topic-here` does not exist"), "{err}");
    // It cannot heal: with restarts allowed, the job still fails on its first attempt.
    let source = KafkaSource::builder(&bootstrap, ValueOnly(Utf8Schema))
        .topics(["no-such-topic-here"])
        .bounded(StoppingOffsets::Latest)
        .build()
        .unwrap();
    let env = StreamEnvironment::builder()
        .restart_strategy(RestartStrategy::fixed_delay(3, std::time::Duration::from_secs(2)))
        .build()
        .unwrap();
    let started = std::time::Instant::now();
    let job = env.from_source(source, "kafka").sink_to(DiscardingSink::new(), "out");
    let error = job.execute("unknown-topic").await.unwrap_err();
    assert!(
        matches!(error, stream_core::StreamError::JobFailed { attempts: 1, .. }) && error.is_permanent(),
        "{error:?}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(2), "no restart waited: {:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_broker_is_a_clear_error() {
    let source = KafkaSource::builder("127.0.0.1:1", ValueOnly(Utf8Schema))
        .topics(["t"])
        .bounded(StoppingOffsets::Latest)
        .build()
        .unwrap();
    let err = run_bounded(source).await.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(err.contains("kafka fetch metadata failed") && err.contains("bootstrap.servers"), "{err}");
    // librdkafka's own report says why: nothing listens there.
    assert!(err.contains("librdkafka last reported") && err.contains("Connection refused"), "{err}");
}

/// librdkafka reports every failed connection attempt through the client's error
/// callback; with rdkafka's default context each was an ERROR line (hundreds before
/// the job's own error). The job's error says what is wrong; librdkafka's retries are
/// debug lines.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_broker_logs_no_librdkafka_errors() {
    use connector_kafka::{KafkaSink, ValueTo};
    let captured = common::capture_process_logs("debug");
    let sink = KafkaSink::builder("127.0.0.1:1", ValueTo::new("t", Utf8Schema))
        .delivery_guarantee(DeliveryGuarantee::AtLeastOnce)
        .property("message.timeout.ms", "3000")
        .build()
        .unwrap();
    let lines: Vec<String> = (0..10).map(|i| format!("line {i}")).collect();
    let env = StreamEnvironment::builder().restart_strategy(RestartStrategy::None).build().unwrap();
    let job = env.from_source(CollectionSource::new(lines), "lines").sink_to(sink, "kafka");
    let error = tokio::time::timeout(std::time::Duration::from_secs(30), job.execute("unreachable")).await;
    let error = error.expect("fails within message.timeout.ms").unwrap_err().to_string();
    assert!(error.contains("not delivered") && error.contains("brokers"), "{error}");
    if let Some(captured) = captured {
        let log = captured.text();
        let errors: Vec<&str> = log.lines().filter(|l| l.contains("ERROR") && l.contains("librdkafka")).collect();
        assert!(errors.is_empty(), "{} librdkafka ERROR lines, the first: {:?}", errors.len(), errors.first());
        assert!(log.contains(" librdkafka:"), "librdkafka's retries reach tracing as debug lines: {log}");
    }
}

/// A record that does not decode fails naming topic/partition@offset, or is skipped
/// and counted; the good records around it are all read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_record_fails_naming_it_or_is_skipped() {
    let Some((bootstrap, topic)) = topic("malformed", 1).await else { return };
    let values = [("1", "{\"id\":1}"), ("2", "not json"), ("3", "{\"id\":3}")];
    produce(&producer(&bootstrap), &topic, values.iter().map(|(k, v)| (k.to_string(), v.to_string()))).await;
    let decode = |r: &KafkaRecord<'_>| -> Result<String, SchemaError> {
        let value = r.value.ok_or("no value")?;
        let json: serde_json::Value =
            serde_json::from_slice(value).map_err(|e| SchemaError::caused_by("not JSON", e))?;
        Ok(format!("{}:{}", String::from_utf8_lossy(r.key.unwrap_or_default()), json["id"]))
    };
    let build = |policy: BadRecordPolicy| {
        KafkaSource::builder(&bootstrap, decode)
            .topics([topic.clone()])
            .bounded(StoppingOffsets::Latest)
            .bad_records(policy)
            .build()
            .unwrap()
    };
    let err = run_bounded(build(BadRecordPolicy::Fail)).await.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(err.contains(&format!("{topic}/0@1")), "{err}");
    let mut read = run_bounded(build(BadRecordPolicy::SkipAndCount)).await.unwrap();
    read.sort();
    assert_eq!(read, vec!["1:1".to_string(), "3:3".to_string()]);
}

#[test]
fn invalid_options_are_rejected_naming_them() {
    let err =
        |b: connector_kafka::KafkaSourceBuilder<String>| b.build().err().map(|e| e.to_string()).unwrap_or_default();
    let base = || KafkaSource::builder("127.0.0.1:9092", ValueOnly(Utf8Schema));
    assert!(err(base()).contains("`topics`"));
    assert!(err(base().topic_pattern("orders-(")).contains("`topic_pattern` = orders-("));
    assert!(err(base().topics(["t"]).property("group.id", "x")).contains("`property` = group.id"));
    let committed = connector_kafka::StartingOffsets::Committed { reset: connector_kafka::OffsetReset::Earliest };
    assert!(err(base().topics(["t"]).starting_offsets(committed)).contains("needs a group_id"));
}

/// Offsets are committed to the consumer group when checkpoints complete, and a source
/// starting from the committed offsets reads only what came after.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offsets_are_committed_to_the_group_and_read_back() {
    use connector_kafka::{OffsetReset, StartingOffsets};
    let Some((bootstrap, topic)) = topic("committed", 2).await else { return };
    let group = format!("{topic}-group");
    let first = (0..500u64).map(|i| (i.to_string(), format!("record-{i}")));
    produce(&producer(&bootstrap), &topic, first).await;
    let build = || {
        KafkaSource::builder(&bootstrap, ValueOnly(Utf8Schema))
            .topics([topic.clone()])
            .group_id(group.clone())
            .starting_offsets(StartingOffsets::Committed { reset: OffsetReset::Earliest })
            .bounded(StoppingOffsets::Latest)
            .build()
            .unwrap()
    };
    assert_eq!(run_bounded(build()).await.unwrap().len(), 500, "no committed offsets yet: from the earliest");
    let second = (500..700u64).map(|i| (i.to_string(), format!("record-{i}")));
    produce(&producer(&bootstrap), &topic, second).await;
    let mut read = run_bounded(build()).await.unwrap();
    read.sort();
    let mut expected: Vec<String> = (500..700).map(|i| format!("record-{i}")).collect();
    expected.sort();
    assert!(read == expected, "the second run reads only the 200 new records, got {}", read.len());
}

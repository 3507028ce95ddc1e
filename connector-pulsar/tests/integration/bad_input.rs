//! Bad input, tried as a user would: a broker that is not there, a message larger
//! than the broker takes, a message the schema cannot decode, bad options. Each fails
//! naming what is wrong, or follows its policy.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::time::{Duration, Instant};

use connector_pulsar::{BadRecordPolicy, BytesSchema, JsonSchema, PulsarSinkBuilder, PulsarSourceBuilder, Utf8Schema};
use stream_core::prelude::*;

async fn run(sink: connector_pulsar::PulsarSink<Vec<u8>>, records: Vec<Vec<u8>>) -> Result<(), String> {
    let env = StreamEnvironment::builder().parallelism(1).restart_strategy(RestartStrategy::None).build().unwrap();
    let job = env.from_source(CollectionSource::new(records), "records").sink_to(sink, "pulsar").execute("bad-input");
    tokio::time::timeout(Duration::from_secs(60), job).await.expect("no hang").map(drop).map_err(|e| e.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_that_is_not_there_fails_at_start_naming_it() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("pulsar://127.0.0.1:{port}");
    let sink = PulsarSinkBuilder::new(&url, "t", BytesSchema).connect_timeout(Duration::from_secs(3)).build().unwrap();
    let started = Instant::now();
    let error = run(sink, vec![b"x".to_vec()]).await.expect_err("no broker");
    assert!(error.contains(&format!("127.0.0.1:{port}")), "{error}");
    assert!(started.elapsed() < Duration::from_secs(20), "{:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_larger_than_the_broker_takes_fails_naming_the_topic() {
    let Some((_proxy, url)) = common::server().await else { return };
    let topic = common::topic("oversized");
    let sink = PulsarSinkBuilder::new(&url, &topic, BytesSchema).send_timeout(Duration::from_secs(10)).build().unwrap();
    // pulsar-lite and Pulsar take 5 MiB a message by default: the sink says so at once.
    let started = Instant::now();
    let error = run(sink, vec![vec![b'x'; 6 * 1024 * 1024]]).await.expect_err("too large");
    assert!(error.contains(&topic) && error.contains("6291456 bytes"), "{error}");
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    // Raised above the broker's limit, the broker's refusal (no receipt) fails it.
    let sink = PulsarSinkBuilder::new(&url, &topic, BytesSchema)
        .max_message_size(10 * 1024 * 1024)
        .send_timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let error = run(sink, vec![vec![b'x'; 6 * 1024 * 1024]]).await.expect_err("refused by the broker");
    assert!(error.contains(&topic), "{error}");
}

#[test]
fn bad_options_are_named() {
    let err = |b: PulsarSinkBuilder<String>| b.build().err().map(|e| e.to_string()).unwrap_or_default();
    let ok = || PulsarSinkBuilder::new("pulsar://127.0.0.1:6650", "t", Utf8Schema);
    assert!(err(PulsarSinkBuilder::new("http://h:1", "t", Utf8Schema)).contains("`url`"));
    assert!(err(PulsarSinkBuilder::new("pulsar://", "t", Utf8Schema)).contains("`url`"));
    assert!(err(PulsarSinkBuilder::new("pulsar://h:1", " ", Utf8Schema)).contains("`topic`"));
    assert!(err(ok().batch_size(1)).contains("`batch_size`"));
    assert!(err(ok().max_pending(0)).contains("`max_pending`"));
    assert!(err(ok().max_message_size(0)).contains("`max_message_size`"));
    assert!(err(ok().send_timeout(Duration::ZERO)).contains("`send_timeout`"));
    assert!(err(ok()).is_empty());
}

/// Read `topic` to its end with a bounded source of `policy`; the ids read, or the
/// job's error.
async fn read(url: &str, topic: &str, policy: BadRecordPolicy) -> Result<Vec<u64>, String> {
    let subscription = format!("bad-{}", fastrand::u32(..));
    let source = PulsarSourceBuilder::new(url, [topic], subscription, JsonSchema::<u64>::new())
        .bounded()
        .bad_records(policy)
        .connect_timeout(Duration::from_secs(3))
        .build()
        .unwrap();
    common::read_all(source).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_the_schema_cannot_decode_follows_the_policy() {
    let Some((_proxy, url)) = common::server().await else { return };
    let topic = common::topic("undecodable");
    let direct = common::direct().await;
    common::produce(&direct, &topic, &[1, 2, 3]).await.unwrap();
    let client = connector_pulsar::pulsar::Pulsar::builder(&direct, connector_pulsar::pulsar::TokioExecutor)
        .build()
        .await
        .unwrap();
    let mut producer = client.producer().with_topic(&topic).build().await.unwrap();
    producer.send_non_blocking(b"not json".to_vec()).await.unwrap().await.unwrap();
    assert_eq!(read(&url, &topic, BadRecordPolicy::SkipAndCount).await.unwrap(), vec![1, 2, 3]);
    let error = read(&url, &topic, BadRecordPolicy::Fail).await.expect_err("a bad record fails");
    assert!(error.contains(&topic), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_without_a_broker_fails_at_start_naming_it() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let started = Instant::now();
    let error = read(&format!("pulsar://127.0.0.1:{port}"), "t", BadRecordPolicy::Fail).await.expect_err("no broker");
    assert!(error.contains(&format!("127.0.0.1:{port}")), "{error}");
    assert!(started.elapsed() < Duration::from_secs(20), "{:?}", started.elapsed());
}

#[test]
fn bad_source_options_are_named() {
    let err = |b: PulsarSourceBuilder<String>| b.build().err().map(|e| e.to_string()).unwrap_or_default();
    let url = "pulsar://127.0.0.1:6650";
    assert!(err(PulsarSourceBuilder::new("http://h", ["t"], "s", Utf8Schema)).contains("`url`"));
    assert!(err(PulsarSourceBuilder::new(url, Vec::<String>::new(), "s", Utf8Schema)).contains("`topics`"));
    assert!(err(PulsarSourceBuilder::new(url, ["t"], "", Utf8Schema)).contains("`subscription`"));
    let ok = || PulsarSourceBuilder::new(url, ["t"], "s", Utf8Schema);
    assert!(err(ok().partition_discovery(Duration::ZERO)).contains("`partition_discovery`"));
    assert!(err(ok().connect_timeout(Duration::ZERO)).contains("`connect_timeout`"));
    assert!(err(ok()).is_empty());
}

//! Bad input against the Pub/Sub emulator: a missing subscription or topic,
//! exactly-once on a plain subscription, a message over the 10 MB limit, malformed
//! payloads under each bad-record policy, and bad options; each fails naming what is
//! wrong, or is skipped and counted, and nothing good is lost.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::PROJECT;
use connector_base::DeliveryGuarantee;
use connector_base::schema::{BadRecordPolicy, JsonSchema};
use connector_pubsub::{DataOnly, PubSubEndpoint, PubSubSink, PubSubSource};
use stream_core::prelude::*;

fn env() -> StreamEnvironment {
    StreamEnvironment::builder()
        .parallelism(1)
        .checkpointing(CheckpointConfig::builder().interval(Duration::from_millis(100)).build().unwrap())
        .restart_strategy(RestartStrategy::None)
        .build()
        .unwrap()
}

/// Read `subscription` for `for_` (the source is unbounded), collecting what it emits.
async fn read_for(source: PubSubSource<u64>, for_: Duration) -> (Result<(), String>, Vec<u64>) {
    let sink = CollectSink::new();
    let handle = env().from_source(source, "in").sink_to(sink.clone(), "out").start("read");
    tokio::time::sleep(for_).await;
    let result = if handle.is_finished() {
        handle.join().await.map(drop).map_err(|e| e.to_string())
    } else {
        handle.cancel_and_join().await.map(drop).map_err(|e| e.to_string())
    };
    (result, sink.committed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_subscription_or_topic_is_named() {
    let Some(host) = common::emulator().await else { return };
    let source = PubSubSource::builder(PROJECT, "no-such-subscription", DataOnly(JsonSchema::<u64>::new()))
        .endpoint(PubSubEndpoint::emulator(&host))
        .build()
        .unwrap();
    // A restart cannot create it: the job fails on its first attempt, whatever the
    // restart strategy allows.
    let restarting = StreamEnvironment::builder()
        .restart_strategy(RestartStrategy::fixed_delay(3, Duration::from_millis(500)))
        .build()
        .unwrap();
    let result = tokio::time::timeout(
        Duration::from_secs(30),
        restarting.from_source(source, "in").sink_to(CollectSink::<u64>::new(), "out").execute("missing"),
    )
    .await
    .expect("the job ends");
    let error = result.expect_err("a missing subscription fails");
    assert!(error.is_permanent(), "{error}");
    let error = error.to_string();
    assert!(error.contains("no-such-subscription") && error.contains("create it first"), "{error}");
    assert!(error.contains("after 1 attempt"), "{error}");

    let sink = PubSubSink::builder(PROJECT, "no-such-topic", JsonSchema::<u64>::new())
        .endpoint(PubSubEndpoint::emulator(&host))
        .build()
        .unwrap();
    let error = env().from_source(CollectionSource::new(vec![1u64]), "in").sink_to(sink, "out").execute("t").await;
    let error = error.expect_err("a missing topic fails");
    assert!(error.is_permanent(), "{error}");
    let error = error.to_string();
    assert!(error.contains("no-such-topic") && error.contains("create the topic first"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exactly_once_on_a_plain_subscription_is_refused_saying_why() {
    let Some(host) = common::emulator().await else { return };
    let (topic, subscription) = (common::fresh("plain"), common::fresh("plain-sub"));
    common::topic_and_subscription(&host, &topic, Some(&subscription), false).await;
    let source = PubSubSource::builder(PROJECT, &subscription, DataOnly(JsonSchema::<u64>::new()))
        .endpoint(PubSubEndpoint::emulator(&host))
        .delivery_guarantee(DeliveryGuarantee::ExactlyOnce)
        .build()
        .unwrap();
    let (result, _) = read_for(source, Duration::from_secs(3)).await;
    let error = result.expect_err("refused");
    assert!(error.contains(&subscription) && error.contains("exactly-once delivery enabled"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_payloads_follow_the_bad_record_policy() {
    let Some(host) = common::emulator().await else { return };
    let make = async |name: &str, policy: BadRecordPolicy| {
        let (topic, subscription) = (common::fresh(name), common::fresh(&format!("{name}-sub")));
        common::topic_and_subscription(&host, &topic, Some(&subscription), false).await;
        common::publish(&host, &topic, &(0..20).collect::<Vec<_>>()).await;
        common::publish_raw(&host, &topic, &["not-a-number"]).await;
        PubSubSource::builder(PROJECT, &subscription, DataOnly(JsonSchema::<u64>::new()))
            .endpoint(PubSubEndpoint::emulator(&host))
            .bad_records(policy)
            .build()
            .unwrap()
    };
    let (result, got) = read_for(make("skip", BadRecordPolicy::SkipAndCount).await, Duration::from_secs(3)).await;
    assert!(result.is_ok(), "{result:?}");
    let mut got = got;
    got.sort_unstable();
    got.dedup();
    assert_eq!(got, (0..20).collect::<Vec<u64>>(), "every good message, the bad one skipped");

    let side: Arc<Mutex<Vec<Vec<u8>>>> = Arc::default();
    let into = side.clone();
    let policy = BadRecordPolicy::SideOutput(Arc::new(move |bad| into.lock().unwrap().push(bad.bytes.clone())));
    let (result, _) = read_for(make("side", policy).await, Duration::from_secs(3)).await;
    assert!(result.is_ok(), "{result:?}");
    assert_eq!(side.lock().unwrap().first().map(Vec::as_slice), Some(&b"not-a-number"[..]));

    let (result, _) = read_for(make("fail", BadRecordPolicy::Fail).await, Duration::from_secs(3)).await;
    let error = result.expect_err("a bad message fails by default");
    assert!(error.contains("subscription") && error.contains("message"), "{error}");
}

#[test]
fn bad_options_are_named() {
    let err = |r: stream_core::Result<PubSubSource<u64>>| r.err().map(|e| e.to_string()).unwrap_or_default();
    let source = || PubSubSource::builder(PROJECT, "subscription", DataOnly(JsonSchema::<u64>::new()));
    assert!(
        err(PubSubSource::builder("", "subscription", DataOnly(JsonSchema::<u64>::new())).build())
            .contains("`project`")
    );
    assert!(
        err(PubSubSource::builder(PROJECT, "ab", DataOnly(JsonSchema::<u64>::new())).build())
            .contains("`subscription`")
    );
    assert!(err(source().max_outstanding_messages(0).build()).contains("`max_outstanding_messages`"));
    assert!(err(source().delivery_guarantee(DeliveryGuarantee::AtMostOnce).build()).contains("`delivery_guarantee`"));
    let sink = |b: connector_pubsub::PubSubSinkBuilder<u64>| b.build().err().map(|e| e.to_string()).unwrap_or_default();
    let base = || PubSubSink::builder(PROJECT, "topic-1", JsonSchema::<u64>::new());
    assert!(sink(base().batching(0, 1000, Duration::from_millis(1))).contains("`batching.messages`"));
    assert!(sink(base().publish_timeout(Duration::ZERO)).contains("`publish_timeout`"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_over_the_limit_fails_naming_the_topic_and_its_size() {
    let Some(host) = common::emulator().await else { return };
    let (topic, subscription) = (common::fresh("big"), common::fresh("big-sub"));
    common::topic_and_subscription(&host, &topic, Some(&subscription), false).await;
    let publish = async |body: String| {
        let sink = PubSubSink::builder(PROJECT, &topic, connector_base::schema::Utf8Schema)
            .endpoint(PubSubEndpoint::emulator(&host))
            .publish_timeout(Duration::from_secs(5))
            .build()
            .unwrap();
        let run = env().from_source(CollectionSource::new(vec![body]), "in").sink_to(sink, "out").execute("t");
        tokio::time::timeout(Duration::from_secs(30), run).await.expect("no hang").map(drop).map_err(|e| e.to_string())
    };
    let error = publish("x".repeat(10_000_001)).await.expect_err("over the limit");
    assert!(error.contains(&topic) && error.contains("10000001 bytes") && error.contains("limit"), "{error}");
    publish("x".repeat(9_990_000)).await.expect("just under the limit goes");
    let got = common::drain(&host, &subscription, Duration::from_secs(2)).await;
    assert_eq!(got.iter().map(String::len).collect::<Vec<_>>(), [9_990_000], "the one under the limit, once");
}

//! The source on the Pub/Sub emulator beyond the guarantee suites: a bounded read
//! ended by a record, what a deserializer sees of a message, and back-pressure (a
//! small outstanding limit and a slow sink: nothing lost, the messages held
//! unacknowledged stay within the limit).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::PROJECT;
use connector_base::schema::Utf8Schema;
use connector_pubsub::google_cloud_pubsub::model::Message;
use connector_pubsub::{DataOnly, PubSubEndpoint, PubSubSource, ReceivedMessage};
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use stream_core::prelude::*;

fn env(checkpoint_every: Duration) -> StreamEnvironment {
    StreamEnvironment::builder()
        .parallelism(1)
        .checkpointing(CheckpointConfig::builder().interval(checkpoint_every).build().unwrap())
        .restart_strategy(RestartStrategy::None)
        .build()
        .unwrap()
}

fn numbers(range: std::ops::Range<u64>) -> Vec<String> {
    range.map(|i| i.to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_end_record_ends_the_read_and_what_was_emitted_is_acknowledged() {
    let Some(host) = common::emulator().await else { return };
    let (topic, subscription) = (common::fresh("bounded"), common::fresh("bounded-sub"));
    common::topic_and_subscription(&host, &topic, Some(&subscription), false).await;
    let before = numbers(0..50);
    common::publish_raw(&host, &topic, &before.iter().map(String::as_str).collect::<Vec<_>>()).await;
    common::publish_raw(&host, &topic, &["END"]).await;

    let source = PubSubSource::builder(PROJECT, &subscription, DataOnly(Utf8Schema))
        .endpoint(PubSubEndpoint::emulator(&host))
        .end_of_stream(|body: &String| body == "END")
        .build()
        .unwrap();
    let sink = CollectSink::new();
    let run = env(Duration::from_millis(200)).from_source(source, "in").sink_to(sink.clone(), "out").execute("b");
    tokio::time::timeout(Duration::from_secs(30), run).await.expect("the read ends").unwrap();
    let mut emitted: Vec<String> = sink.committed();
    assert!(!emitted.contains(&"END".to_string()), "the end record is not emitted");
    emitted.sort_by_key(|b| b.parse::<u64>().unwrap());
    assert_eq!(emitted, before, "every message before the end, once");

    // The final checkpoint acknowledged them and the end record: none comes back.
    // (What a reader received beyond its end is nacked when its stream closes; the
    // emulator keeps a closed stream's messages, so that part is not shown here.)
    let back = common::drain(&host, &subscription, Duration::from_secs(3)).await;
    assert!(back.is_empty(), "acknowledged at the final checkpoint, yet redelivered: {back:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deserializer_sees_attributes_ordering_key_id_and_publish_time() {
    let Some(host) = common::emulator().await else { return };
    let (topic, subscription) = (common::fresh("attrs"), common::fresh("attrs-sub"));
    common::topic_and_subscription(&host, &topic, Some(&subscription), false).await;
    let message = Message::new()
        .set_data(bytes::Bytes::from_static(b"body"))
        .set_attributes([("kind", "order")])
        .set_ordering_key("customer-7");
    common::publish_messages(&host, &topic, vec![message]).await;
    let seen = Arc::new(AtomicBool::new(false));
    let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let describe = move |m: &ReceivedMessage<'_>| -> Result<String, connector_base::schema::SchemaError> {
        let recent = (m.publish_time_ms - now_ms).abs() < 60_000;
        Ok(format!(
            "{}|{}|{}|{}|{}",
            String::from_utf8_lossy(m.data),
            m.attributes.get("kind").map_or("-", String::as_str),
            m.ordering_key,
            !m.message_id.is_empty(),
            recent
        ))
    };
    let source = PubSubSource::builder(PROJECT, &subscription, describe)
        .endpoint(PubSubEndpoint::emulator(&host))
        .end_of_stream({
            let seen = seen.clone();
            move |_| seen.swap(true, Ordering::SeqCst)
        })
        .build()
        .unwrap();
    let sink = CollectSink::new();
    let handle = env(Duration::from_millis(100)).from_source(source, "in").sink_to(sink.clone(), "out").start("a");
    tokio::time::sleep(Duration::from_secs(3)).await;
    handle.cancel_and_join().await.ok();
    assert_eq!(sink.committed(), vec!["body|order|customer-7|true|true".to_string()]);
}

/// The gauge `name` of `subscription`.
fn gauge(snapshotter: &Snapshotter, name: &str, subscription: &str) -> f64 {
    snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .filter(|(key, _, _, _)| {
            key.key().name() == name && key.key().labels().any(|l| l.value().ends_with(subscription))
        })
        .map(|(_, _, _, value)| match value {
            DebugValue::Gauge(g) => g.into_inner(),
            _ => 0.0,
        })
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_sink_holds_at_most_the_outstanding_limit_and_loses_nothing() {
    let Some(host) = common::emulator().await else { return };
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::set_global_recorder(recorder).unwrap();

    let (topic, subscription) = (common::fresh("slow"), common::fresh("slow-sub"));
    common::topic_and_subscription(&host, &topic, Some(&subscription), false).await;
    let ids: Vec<u64> = (0..300).collect();
    common::publish(&host, &topic, &ids).await;
    const LIMIT: i64 = 20;
    let source = PubSubSource::builder(PROJECT, &subscription, DataOnly(Utf8Schema))
        .endpoint(PubSubEndpoint::emulator(&host))
        .max_outstanding_messages(LIMIT)
        .end_of_stream(|body: &String| body == "END")
        .build()
        .unwrap();
    let sink = CollectSink::new();
    let slow = |body: String| {
        std::thread::sleep(Duration::from_millis(5));
        body
    };
    let run = env(Duration::from_millis(50)).from_source(source, "in").map(slow).sink_to(sink.clone(), "out");
    let handle = run.start("slow");
    let most = Arc::new(Mutex::new(0.0f64));
    let watch = tokio::spawn({
        let most = most.clone();
        let subscription = subscription.clone();
        async move {
            loop {
                let held = gauge(&snapshotter, "pubsub_source_unacked_messages", &subscription);
                {
                    let mut most = most.lock().unwrap();
                    *most = most.max(held);
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }
    });
    // Publish the end only once the slow sink has had time to back up.
    tokio::time::sleep(Duration::from_secs(1)).await;
    common::publish_raw(&host, &topic, &["END"]).await;
    tokio::time::timeout(Duration::from_secs(60), handle.join()).await.expect("the read ends").unwrap();
    watch.abort();
    let most = *most.lock().unwrap();
    eprintln!("held at most {most} unacknowledged messages (limit {LIMIT})");
    // Reaching half the limit shows the slow sink backed the reader up.
    assert!(most >= (LIMIT / 2) as f64 && most <= LIMIT as f64, "held at most {most} (limit {LIMIT})");
    let got: BTreeSet<u64> = sink.committed().iter().map(|b: &String| b.parse().unwrap()).collect();
    let left: BTreeSet<u64> = common::drain(&host, &subscription, Duration::from_secs(2))
        .await
        .iter()
        .filter_map(|b| b.parse().ok())
        .collect();
    let seen: BTreeSet<u64> = got.union(&left).copied().collect();
    assert_eq!(seen, ids.iter().copied().collect(), "nothing lost");
}

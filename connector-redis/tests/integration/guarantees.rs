//! RedisStreamsSource against a real redis-server (`cargo xtask services up redis`, or
//! `REDIS_URL`): the testkit source suites with crashes (bounded, continuous, resume)
//! for the exactly-once stream positions and the at-least-once consumer group; start
//! positions; bad input gives clear errors.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use connector_base::DeliveryGuarantee;
use connector_redis::{RedisEndpoint, RedisStreamsSource, StartPosition, StreamEntry};
use connector_testkit::{SuiteConfig, run_resume_source_suite, run_source_suite, run_unbounded_source_suite};
use stream_core::prelude::*;

fn config() -> SuiteConfig {
    SuiteConfig { records: 3_000, ..SuiteConfig::default() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bounded_reads_are_exactly_once_across_crashes() {
    let Some(target) = common::Streams::new("bounded", false).await else { return };
    let verdict = run_source_suite(target, config()).await.unwrap();
    assert!(verdict.crashes >= 1, "{verdict}");
    verdict.check(DeliveryGuarantee::ExactlyOnce).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unbounded_reads_see_new_entries_exactly_once_across_crashes() {
    let Some(target) = common::Streams::new("unbounded", false).await else { return };
    let verdict = run_unbounded_source_suite(target, config()).await.unwrap();
    assert!(verdict.crashes >= 1, "{verdict}");
    verdict.check(DeliveryGuarantee::ExactlyOnce).unwrap();
}

/// The testkit's source crash points (in group mode the third one falls before the
/// acknowledgement) with this file's settings.
fn crash_at_every_point() -> SuiteConfig {
    let points = SuiteConfig::source_crash_at_every_point();
    SuiteConfig { crashes: points.crashes, faults: points.faults, ..config() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn positions_and_consumer_group_with_a_crash_at_every_protocol_point() {
    let Some(target) = common::Streams::new("points", false).await else { return };
    let verdict = run_unbounded_source_suite(target, crash_at_every_point()).await.unwrap();
    assert_eq!(verdict.crashes, 4, "{verdict}");
    verdict.check(DeliveryGuarantee::ExactlyOnce).unwrap();
    let Some(target) = common::Streams::new("group-points", true).await else { return };
    let verdict = run_unbounded_source_suite(target, crash_at_every_point()).await.unwrap();
    assert_eq!(verdict.crashes, 4, "{verdict}");
    verdict.check(DeliveryGuarantee::AtLeastOnce).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_job_resumes_where_its_checkpoint_left_off() {
    let Some(target) = common::Streams::new("resume", false).await else { return };
    let verdict = run_resume_source_suite(target, config()).await.unwrap();
    verdict.check(DeliveryGuarantee::ExactlyOnce).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumer_group_reads_lose_nothing_across_crashes() {
    let Some(target) = common::Streams::new("group", true).await else { return };
    let verdict = run_unbounded_source_suite(target.clone(), config()).await.unwrap();
    assert!(verdict.crashes >= 1, "{verdict}");
    verdict.check(DeliveryGuarantee::AtLeastOnce).unwrap();
    // Everything the job checkpointed was acknowledged: what is still pending for the
    // group is at most what came after the last completed checkpoint.
    let mut conn = common::raw(&target.url).await;
    let mut pending = 0;
    for key in &target.keys {
        // XPENDING summary: count, lowest id, highest id, per-consumer counts.
        type Summary = (u64, Option<String>, Option<String>, Option<Vec<(String, String)>>);
        let reply: Summary = connector_redis::redis::cmd("XPENDING")
            .arg(key)
            .arg(target.group.as_deref().unwrap())
            .query_async(&mut conn)
            .await
            .unwrap();
        pending += reply.0;
    }
    assert!(pending < config().records / 2, "{pending} entries were never acknowledged");
}

async fn read_all(source: RedisStreamsSource) -> Vec<StreamEntry> {
    let out = CollectSink::new();
    StreamEnvironment::builder()
        .parallelism(2)
        .build()
        .unwrap()
        .from_source(source, "redis")
        .sink_to(out.clone(), "collect")
        .execute("read-all")
        .await
        .unwrap();
    out.committed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_positions_beginning_end_and_id() {
    let Some(url) = common::server().await else { return };
    let key = common::unique("start");
    common::xadd_ids(&url, &key, &[1, 2, 3]).await;
    let ids = common::stream_ids(&url, &key).await;
    assert_eq!(ids, vec![1, 2, 3]);
    let reply: Vec<(String, Vec<(String, String)>)> = connector_redis::redis::cmd("XRANGE")
        .arg(&key)
        .arg("-")
        .arg("+")
        .query_async(&mut common::raw(&url).await)
        .await
        .unwrap();
    let second_id = reply[1].0.clone();
    let endpoint = RedisEndpoint::standalone(&url);
    let read = |start: StartPosition| {
        let source = RedisStreamsSource::builder(endpoint.clone())
            .streams([key.clone()])
            .start(start)
            .bounded()
            .build()
            .unwrap();
        async move {
            let mut got: Vec<String> = read_all(source)
                .await
                .iter()
                .map(|e| String::from_utf8(e.field("id").unwrap().to_vec()).unwrap())
                .collect();
            got.sort();
            got
        }
    };
    assert_eq!(read(StartPosition::Beginning).await, ["1", "2", "3"]);
    assert_eq!(read(StartPosition::Id(second_id)).await, ["2", "3"]);
    assert!(read(StartPosition::End).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gives_clear_errors() {
    let Some(url) = common::server().await else { return };
    // A key holding a string, not a stream.
    let key = common::unique("not-a-stream");
    let () =
        connector_redis::redis::cmd("SET").arg(&key).arg("x").query_async(&mut common::raw(&url).await).await.unwrap();
    let source = RedisStreamsSource::builder(RedisEndpoint::standalone(&url)).streams([key.clone()]).build().unwrap();
    let err = tokio::time::timeout(std::time::Duration::from_secs(30), async {
        StreamEnvironment::builder()
            .restart_strategy(RestartStrategy::None)
            .build()
            .unwrap()
            .from_source(source, "redis")
            .sink_to(DiscardingSink::new(), "discard")
            .execute("wrong-type")
            .await
            .unwrap_err()
            .to_string()
    })
    .await
    .unwrap();
    assert!(err.contains(&key) && err.contains("WRONGTYPE"), "{err}");

    // Nothing listens on this port.
    let source = RedisStreamsSource::builder(RedisEndpoint::standalone("redis://:secret@127.0.0.1:1"))
        .streams(["s"])
        .bounded()
        .build()
        .unwrap();
    let err = StreamEnvironment::builder()
        .restart_strategy(RestartStrategy::None)
        .build()
        .unwrap()
        .from_source(source, "redis")
        .sink_to(DiscardingSink::new(), "discard")
        .execute("unreachable")
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("127.0.0.1:1") && !err.contains("secret"), "{err}");

    // Options.
    let e = |b: connector_redis::RedisStreamsSourceBuilder| b.build().unwrap_err().to_string();
    let base = || RedisStreamsSource::builder(RedisEndpoint::standalone(&url));
    assert!(e(base()).contains("streams"));
    assert!(e(base().streams(["s"]).start(StartPosition::Id("abc".into()))).contains("abc"));
    assert!(e(base().streams(["s"]).batch_size(0)).contains("batch_size"));
    assert!(e(base().streams(["s"]).bounded().consumer_group("g", "c")).contains("bounded"));
    assert!(RedisStreamsSource::builder(RedisEndpoint::standalone("http://x")).streams(["s"]).build().is_err());
}

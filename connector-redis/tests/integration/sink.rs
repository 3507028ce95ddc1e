//! RedisSink against a real redis-server: the testkit sink suite with crashes at every
//! protocol point and at random, for exactly-once (SET, XADD with ids) and
//! at-least-once (RPUSH); what reached Redis is read back and compared with what was
//! sent. Bad input fails with a clear error and, once fixed, a new run from the
//! checkpoint loses nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::time::Duration;

use connector_base::DeliveryGuarantee;
use connector_redis::redis::AsyncCommands;
use connector_redis::{CommandKind, RedisCommand, RedisEndpoint, RedisSink, RedisSinkBuilder};
use connector_testkit::{SuiteConfig, run_sink_suite};
use stream_core::prelude::*;

/// The sink's protocol points (it has no committer, so no commit phase): after
/// records were written, and while the writer flushes and snapshots its buffer.
fn crash_at_every_point() -> SuiteConfig {
    SuiteConfig::writer_crash_at_every_point()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_is_exactly_once_with_a_crash_at_every_protocol_point() {
    let Some(target) = common::Written::new(common::Write::Set).await else { return };
    let verdict = run_sink_suite(target, crash_at_every_point()).await.unwrap();
    assert_eq!(verdict.crashes, 2, "{verdict}");
    verdict.check(DeliveryGuarantee::ExactlyOnce).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xadd_with_ids_is_exactly_once_with_a_crash_at_every_protocol_point() {
    let Some(target) = common::Written::new(common::Write::XAddWithIds).await else { return };
    let verdict = run_sink_suite(target, crash_at_every_point()).await.unwrap();
    assert_eq!(verdict.crashes, 2, "{verdict}");
    verdict.check(DeliveryGuarantee::ExactlyOnce).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xadd_with_ids_is_exactly_once_across_random_crashes() {
    let Some(target) = common::Written::new(common::Write::XAddWithIds).await else { return };
    let verdict = run_sink_suite(target, SuiteConfig::default()).await.unwrap();
    assert!(verdict.crashes >= 1, "{verdict}");
    verdict.check(DeliveryGuarantee::ExactlyOnce).unwrap();
}

async fn every_point_then_random(write: common::Write, guarantee: DeliveryGuarantee) {
    for config in [crash_at_every_point(), SuiteConfig::default()] {
        let Some(target) = common::Written::new(write).await else { return };
        let verdict = run_sink_suite(target, config).await.unwrap();
        assert!(verdict.crashes >= 1, "{verdict}");
        verdict.check(guarantee).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hset_sadd_zadd_are_exactly_once_across_crashes() {
    for write in [common::Write::HSet, common::Write::SAdd, common::Write::ZAdd] {
        every_point_then_random(write, DeliveryGuarantee::ExactlyOnce).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lpush_and_incrby_are_at_least_once_across_crashes() {
    for write in [common::Write::LPush, common::Write::IncrBy] {
        every_point_then_random(write, DeliveryGuarantee::AtLeastOnce).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rpush_is_at_least_once_across_random_crashes() {
    let Some(target) = common::Written::new(common::Write::RPush).await else { return };
    let verdict = run_sink_suite(target, SuiteConfig::default()).await.unwrap();
    assert!(verdict.crashes >= 1, "{verdict}");
    verdict.check(DeliveryGuarantee::AtLeastOnce).unwrap();
}

#[test]
fn invalid_options_are_rejected_naming_them() {
    let endpoint = || RedisEndpoint::standalone("redis://127.0.0.1:6379");
    let incr = |id: u64| RedisCommand::IncrBy { key: "k".into(), by: id as i64 };
    let e = RedisSinkBuilder::new(endpoint(), CommandKind::IncrBy, incr)
        .delivery_guarantee(DeliveryGuarantee::ExactlyOnce)
        .build()
        .unwrap_err()
        .to_string();
    assert!(e.contains("INCRBY") && e.contains("at-least-once"), "{e}");
    let set = |id: u64| RedisCommand::Set { key: id.to_string(), value: vec![], ttl_ms: None };
    let e = RedisSinkBuilder::new(endpoint(), CommandKind::Set, set)
        .delivery_guarantee(DeliveryGuarantee::ExactlyOnce)
        .max_in_flight_requests(2)
        .build()
        .unwrap_err()
        .to_string();
    assert!(e.contains("max_in_flight_requests"), "{e}");
    let e = RedisSinkBuilder::new(endpoint(), CommandKind::Set, set)
        .delivery_guarantee(DeliveryGuarantee::None)
        .build()
        .unwrap_err()
        .to_string();
    assert!(e.contains("delivery_guarantee"), "{e}");
    let e = RedisSinkBuilder::new(endpoint(), CommandKind::Set, set).max_batch_size(0).build().unwrap_err().to_string();
    assert!(e.contains("max_batch_size"), "{e}");
    let e = RedisSinkBuilder::new(RedisEndpoint::standalone("redis://:pw@"), CommandKind::Set, set).build();
    assert!(e.is_err_and(|e| !e.to_string().contains("pw")));
    let sink =
        RedisSinkBuilder::new(RedisEndpoint::standalone("redis://:hunter2@127.0.0.1:6379"), CommandKind::Set, set)
            .build()
            .unwrap();
    assert!(!format!("{sink:?}").contains("hunter2"));
}

fn job(
    dir: &std::path::Path,
    sink: RedisSink<u64>,
    records: u64,
) -> impl Future<Output = Result<JobResult, StreamError>> {
    let env = StreamEnvironment::builder()
        .checkpointing(CheckpointConfig::builder().interval(Duration::from_millis(20)).build().unwrap())
        .state_backend(FsStateBackend::new(dir).unwrap())
        .restart_strategy(RestartStrategy::None)
        .parallelism(2)
        .batch_size(32)
        .build()
        .unwrap();
    let source = CollectionSource::sequence(0..records).records_per_second(5_000.0).unwrap();
    env.from_source(source, "records").sink_to(sink, "redis").execute("redis-bad-input")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_type_at_a_key_fails_clearly_and_a_fixed_rerun_loses_nothing() {
    let Some(url) = common::server().await else { return };
    let prefix = common::unique("hset");
    let bad = format!("{prefix}:3");
    let mut conn = common::raw(&url).await;
    let () = conn.set(&bad, "a string, not a hash").await.unwrap();
    let p = prefix.clone();
    let sink = move || {
        let p = p.clone();
        RedisSinkBuilder::new(RedisEndpoint::standalone(&url), CommandKind::HSet, move |id: u64| RedisCommand::HSet {
            key: format!("{p}:{}", id % 10),
            field: id.to_string(),
            value: id.to_string().into_bytes(),
        })
        .delivery_guarantee(DeliveryGuarantee::ExactlyOnce)
        .build()
        .unwrap()
    };
    let dir = tempfile::tempdir().unwrap();
    let error = job(dir.path(), sink(), 1_000).await.unwrap_err();
    // The connector's error and the client's under it, to match on.
    let ours = error.find::<connector_redis::RedisError>();
    assert!(matches!(ours, Some(connector_redis::RedisError::Command { command: "HSET", .. })), "{error:?}");
    let client = error.find::<connector_redis::redis::RedisError>().map(|e| e.code().map(String::from));
    assert_eq!(client, Some(Some("WRONGTYPE".to_string())), "{error:?}");
    let err = error.to_string();
    assert!(err.contains("WRONGTYPE") && err.contains(&bad) && err.contains("HSET"), "{err}");
    let () = conn.del(&bad).await.unwrap();
    job(dir.path(), sink(), 1_000).await.unwrap();
    let mut fields = Vec::new();
    for h in 0..10 {
        let f: Vec<u64> = conn.hkeys(format!("{prefix}:{h}")).await.unwrap();
        fields.extend(f);
    }
    fields.sort();
    assert_eq!(fields, (0..1_000).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mapper_returning_another_kind_and_an_unreachable_server_fail_clearly() {
    let Some(_) = common::server().await else { return };
    let dir = tempfile::tempdir().unwrap();
    let sink =
        RedisSinkBuilder::new(RedisEndpoint::standalone("redis://:secret@127.0.0.1:1"), CommandKind::Set, |id: u64| {
            RedisCommand::Set { key: id.to_string(), value: vec![], ttl_ms: None }
        })
        .build()
        .unwrap();
    let err = job(dir.path(), sink, 10).await.unwrap_err().to_string();
    assert!(err.contains("127.0.0.1:1") && !err.contains("secret"), "{err}");

    let url = common::server().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let sink = RedisSinkBuilder::new(RedisEndpoint::standalone(&url), CommandKind::Set, |id: u64| {
        RedisCommand::IncrBy { key: common::unique(&id.to_string()), by: 1 }
    })
    .build()
    .unwrap();
    let err = job(dir.path(), sink, 10).await.unwrap_err().to_string();
    assert!(err.contains("INCRBY") && err.contains("SET"), "{err}");
}

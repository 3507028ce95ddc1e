//! Two Kafka topics unioned into a keyed count that fans out to three exactly-once
//! sinks: Kafka (transactions), files (part files committed by rename) and Redis
//! (`HSET`, idempotent). Faults at every protocol point and at random stages and
//! subtasks; afterwards each sink must hold exactly the true `(key, count)` updates.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use connector_base::DeliveryGuarantee;
use connector_base::schema::Utf8Schema;
use connector_file::{BucketAssigner, FileSink, LineEncoder};
use connector_kafka::{KafkaSink, KafkaSource, StoppingOffsets, ValueOnly, ValueTo};
use connector_redis::redis::{self, AsyncCommands};
use connector_redis::{CommandKind, RedisCommand, RedisEndpoint, RedisSinkBuilder};
use connector_testkit::{TestServer, servers};
use stream_core::fault::{Fault, FaultInjector, FaultPoint};
use stream_core::prelude::*;

use crate::kafka::{create_topic, produce, read_committed};

const N: u64 = 30_000;
const KEYS: u64 = 37;
const PARTITIONS: i32 = 2;

fn key_of(x: &u64) -> u64 {
    x % KEYS
}

fn source(bootstrap: &str, topic: &str) -> KafkaSource<String> {
    KafkaSource::builder(bootstrap, ValueOnly(Utf8Schema))
        .topics([topic])
        .group_id(format!("{topic}-job"))
        .bounded(StoppingOffsets::Latest)
        .max_records_per_poll(50)
        .build()
        .unwrap()
}

fn line((key, count): (u64, u64)) -> String {
    format!("{key} {count}")
}

fn parse(line: &str) -> (u64, u64) {
    let (key, count) = line.split_once(' ').unwrap_or_else(|| panic!("malformed line `{line}`"));
    (key.parse().unwrap(), count.parse().unwrap())
}

/// `(lost, duplicated)` of `(key, count)` updates against the true counts of 0..N.
fn lost_and_duplicated(output: &[(u64, u64)]) -> (usize, usize) {
    let mut truth: BTreeMap<u64, u64> = BTreeMap::new();
    for x in 0..N {
        *truth.entry(key_of(&x)).or_default() += 1;
    }
    let mut seen: BTreeMap<(u64, u64), usize> = BTreeMap::new();
    for pair in output {
        *seen.entry(*pair).or_default() += 1;
    }
    let lost = truth.iter().map(|(k, n)| (1..=*n).filter(|c| !seen.contains_key(&(*k, *c))).count()).sum();
    let beyond = seen.keys().filter(|(k, c)| *c > truth.get(k).copied().unwrap_or(0)).count();
    (lost, seen.values().map(|n| n - 1).sum::<usize>() + beyond)
}

fn file_lines(dir: &Path) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if path.is_dir() {
                dirs.push(path);
            } else if !name.starts_with('.') {
                out.extend(std::fs::read_to_string(&path).unwrap().lines().map(parse));
            }
        }
    }
    out
}

async fn redis_pairs(url: &str, prefix: &str) -> Vec<(u64, u64)> {
    let mut conn = redis::Client::open(url).unwrap().get_multiplexed_async_connection().await.unwrap();
    let mut out = Vec::new();
    for key in 0..KEYS {
        let fields: Vec<(u64, u64)> = conn.hgetall(format!("{prefix}:{key}")).await.unwrap();
        out.extend(fields.into_iter().map(|(count, value)| {
            assert_eq!(count, value);
            (key, count)
        }));
    }
    out
}

/// One fault at each protocol point, each at a random stage that has it, and one
/// more anywhere. A fault after records counts within one attempt: its threshold
/// stays far below a subtask's share (7 500 records at a source), so restarts
/// before it cannot leave its subtask too few records to reach it.
fn plant(faults: &FaultInjector, rng: &mut fastrand::Rng) {
    let all = ["left", "right", "count", "kafka", "files", "redis"];
    // Redis writes idempotent commands as they come: it has no commit phase.
    let sinks = ["kafka", "files"];
    let pick = |rng: &mut fastrand::Rng, from: &[&'static str]| from[rng.usize(0..from.len())];
    let mut planted = vec![
        Fault::new(pick(rng, &all), FaultPoint::DuringSnapshot),
        Fault::new(pick(rng, &all), FaultPoint::AfterRecords(rng.u64(100..600))),
        Fault::new(pick(rng, &sinks), FaultPoint::AfterCheckpointBeforeCommit),
        Fault::new(pick(rng, &sinks), FaultPoint::DuringCommit),
    ];
    let extra = match rng.usize(0..3) {
        0 => Fault::new(pick(rng, &all), FaultPoint::AfterRecords(rng.u64(100..600))),
        1 => Fault::new(pick(rng, &all), FaultPoint::DuringSnapshot).after_faults(4),
        _ => Fault::new(pick(rng, &sinks), FaultPoint::DuringCommit).after_faults(4),
    };
    planted.push(extra);
    for fault in planted {
        let fault = fault.subtask(rng.usize(0..2));
        eprintln!("planted: {fault:?}");
        faults.plant(fault);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_kafka_sources_into_kafka_files_and_redis_are_exactly_once_in_every_sink() {
    let _ = tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::from_default_env()).try_init();
    let Some(kafka) = TestServer::discover(&servers::KAFKA).await.unwrap() else { return };
    let Some(redis_server) = TestServer::discover(&servers::REDIS).await.unwrap() else { return };
    let (bootstrap, redis_url) = (kafka.endpoint.clone(), redis_server.endpoint.clone());
    let (left, right, out) = (
        create_topic(&bootstrap, "left", PARTITIONS).await,
        create_topic(&bootstrap, "right", PARTITIONS).await,
        create_topic(&bootstrap, "out", PARTITIONS).await,
    );
    {
        let (b, l, r) = (bootstrap.clone(), left.clone(), right.clone());
        tokio::task::spawn_blocking(move || {
            produce(&b, &l, PARTITIONS, (0..N).filter(|x| x % 2 == 0));
            produce(&b, &r, PARTITIONS, (0..N).filter(|x| x % 2 == 1));
        })
        .await
        .unwrap();
    }
    let seed = std::env::var("TEST_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| fastrand::u64(..));
    eprintln!("TEST_SEED={seed}");
    let faults = FaultInjector::new();
    plant(&faults, &mut fastrand::Rng::with_seed(seed));

    let dir = tempfile::tempdir().unwrap();
    let prefix = format!("e2e-{}-{}", std::process::id(), fastrand::u32(..));
    let kafka_sink = KafkaSink::builder(&bootstrap, ValueTo::new(&out, Utf8Schema))
        .delivery_guarantee(DeliveryGuarantee::ExactlyOnce)
        .transactional_id_prefix(&out)
        .build()
        .unwrap();
    let file_sink =
        FileSink::builder(dir.path().join("out"), LineEncoder).buckets(BucketAssigner::Single).build().unwrap();
    let hash = prefix.clone();
    let redis_sink = RedisSinkBuilder::new(
        RedisEndpoint::standalone(&redis_url),
        CommandKind::HSet,
        move |(key, count): (u64, u64)| RedisCommand::HSet {
            key: format!("{hash}:{key}"),
            field: count.to_string(),
            value: count.to_string().into_bytes(),
        },
    )
    .delivery_guarantee(DeliveryGuarantee::ExactlyOnce)
    .build()
    .unwrap();

    let env = StreamEnvironment::builder()
        .checkpointing(CheckpointConfig::builder().interval(Duration::from_millis(100)).build().unwrap())
        .state_backend(FsStateBackend::new(dir.path().join("checkpoints")).unwrap())
        .restart_strategy(RestartStrategy::fixed_delay(10, Duration::from_millis(200)))
        .parallelism(2)
        .fault_injector(faults.clone())
        .build()
        .unwrap();
    let to_number = |value: String| value.parse::<u64>().unwrap_or(u64::MAX);
    let counts = env
        .from_source(source(&bootstrap, &left), "left")
        .map(to_number)
        .union(env.from_source(source(&bootstrap, &right), "right").map(to_number))
        .key_by(key_of)
        .process(
            "count",
            process_fn(|key: &u64, n: &mut u64, _x: u64, out: &mut Collector<(u64, u64)>| {
                *n += 1;
                out.collect((*key, *n));
                Ok(())
            }),
        );
    let result = counts
        .clone()
        .map(line)
        .sink_to(kafka_sink, "kafka")
        .and(counts.clone().map(line).sink_to(file_sink, "files"))
        .and(counts.sink_to(redis_sink, "redis"))
        .execute("kafka-to-three-sinks")
        .await
        .unwrap();
    assert!(faults.pending().is_empty(), "every planted fault fires, left: {:?}", faults.pending());
    assert!(result.restarts >= 1, "{result:?}");

    let kafka_output: Vec<(u64, u64)> = {
        let (b, t) = (bootstrap.clone(), out.clone());
        tokio::task::spawn_blocking(move || read_committed(&b, &t, PARTITIONS))
            .await
            .unwrap()
            .iter()
            .map(|l| parse(l))
            .collect()
    };
    let (file_output, redis_output) = (file_lines(&dir.path().join("out")), redis_pairs(&redis_url, &prefix).await);
    let verdicts = [
        ("kafka", kafka_output.len(), lost_and_duplicated(&kafka_output)),
        ("files", file_output.len(), lost_and_duplicated(&file_output)),
        ("redis", redis_output.len(), lost_and_duplicated(&redis_output)),
    ];
    for (sink, received, (lost, duplicated)) in &verdicts {
        eprintln!("{sink}: received={received} lost={lost} duplicated={duplicated} restarts={}", result.restarts);
    }
    for (sink, received, (lost, duplicated)) in verdicts {
        assert_eq!((received, lost, duplicated), (N as usize, 0, 0), "{sink}: every update exactly once");
    }
}

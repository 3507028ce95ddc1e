//! KinesisStreamsSource behaviour against kinesis-local: starting positions, bad
//! input, options.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime};

use connector_kinesis::aws_config::SdkConfig;
use connector_kinesis::aws_sdk_kinesis::Client;
use connector_kinesis::aws_sdk_kinesis::types::ShardIteratorType;
use connector_kinesis::{KinesisStreamsSource, KinesisStreamsSourceBuilder, StartingPosition};
use stream_core::prelude::*;

fn source(sdk: &SdkConfig, stream: &str, start: StartingPosition) -> KinesisStreamsSourceBuilder {
    KinesisStreamsSource::builder(sdk, stream)
        .starting_position(start)
        .idle_poll_interval(Duration::from_millis(20))
        .shard_discovery_interval(Duration::from_millis(200))
}

/// Start a job reading `source`; `during` runs once it reads; the job is cancelled
/// once `expected` ids arrived (or after 30 s). Returns the ids read, sorted.
async fn read(
    source: KinesisStreamsSource,
    expected: usize,
    during: impl std::future::Future<Output = ()>,
) -> Vec<u64> {
    let collect = CollectSink::new();
    let env = StreamEnvironment::builder()
        .checkpointing(CheckpointConfig::builder().interval(Duration::from_millis(50)).build().unwrap())
        .restart_strategy(RestartStrategy::None)
        .parallelism(2)
        .build()
        .unwrap();
    let metrics = env.metrics();
    let handle = env
        .from_source(source, "source")
        .map(|r| common::id_of(&r))
        .sink_to(collect.clone(), "collect")
        .start("kinesis-source");
    // A first checkpoint shows the job is up (and `Latest` fixed, at the enumerator's
    // start); under CI load a fixed pause was not always enough, and the records put
    // after it were older than "latest". Then give the readers their shards before
    // anything new is put.
    let up = Instant::now() + Duration::from_secs(30);
    while metrics.snapshot().checkpoints_completed == 0 && Instant::now() < up {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    during.await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while collect.committed().len() < expected && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // A little longer: records beyond the expected ones would show up now.
    tokio::time::sleep(Duration::from_millis(300)).await;
    handle.cancel_and_join().await.unwrap();
    let mut ids = collect.committed();
    ids.sort();
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latest_reads_only_what_is_put_after_the_start() {
    let Some(sdk) = common::server().await else { return };
    let stream = common::stream(&sdk, "latest", 2).await;
    common::put(&sdk, &stream, &common::keyed(&(0..100).collect::<Vec<_>>())).await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let newer = common::keyed(&(100..200).collect::<Vec<_>>());
    let later = common::put(&sdk, &stream, &newer);
    let ids = read(source(&sdk, &stream, StartingPosition::Latest).build().unwrap(), 100, later).await;
    assert_eq!(ids, (100..200).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_timestamp_and_trim_horizon_start_where_asked() {
    let Some(sdk) = common::server().await else { return };
    let stream = common::stream(&sdk, "timestamp", 2).await;
    common::put(&sdk, &stream, &common::keyed(&(0..100).collect::<Vec<_>>())).await;
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let between = SystemTime::now();
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    common::put(&sdk, &stream, &common::keyed(&(100..150).collect::<Vec<_>>())).await;
    let at = source(&sdk, &stream, StartingPosition::AtTimestamp(between)).build().unwrap();
    assert_eq!(read(at, 50, async {}).await, (100..150).collect::<Vec<_>>());
    let all = source(&sdk, &stream, StartingPosition::TrimHorizon).build().unwrap();
    assert_eq!(read(all, 150, async {}).await, (0..150).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_sequence_numbers_start_named_shards_there_and_others_at_their_beginning() {
    let Some(sdk) = common::server().await else { return };
    let stream = common::stream(&sdk, "sequence", 1).await;
    common::put(&sdk, &stream, &common::keyed(&(0..50).collect::<Vec<_>>())).await;
    let client = Client::new(&sdk);
    let iterator = client
        .get_shard_iterator()
        .stream_name(&stream)
        .shard_id("shardId-000000000000")
        .shard_iterator_type(ShardIteratorType::TrimHorizon)
        .send()
        .await
        .unwrap();
    let page = client.get_records().shard_iterator(iterator.shard_iterator().unwrap()).send().await.unwrap();
    let twentieth = page.records()[20].sequence_number().to_string();
    let start = StartingPosition::AtSequenceNumbers(BTreeMap::from([("shardId-000000000000".into(), twentieth)]));
    let ids = read(source(&sdk, &stream, start).build().unwrap(), 30, async {}).await;
    assert_eq!(ids, (20..50).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_stream_and_an_unreachable_endpoint_fail_naming_them() {
    let Some(sdk) = common::server().await else { return };
    let run = |source: KinesisStreamsSource| async move {
        StreamEnvironment::builder()
            .restart_strategy(RestartStrategy::None)
            .build()
            .unwrap()
            .from_source(source, "source")
            .sink_to(DiscardingSink::default(), "discard")
            .execute("bad-input")
            .await
            .map(drop)
            .unwrap_err()
            .to_string()
    };
    let error = run(source(&sdk, "no-such-stream", StartingPosition::Latest).build().unwrap()).await;
    assert!(error.contains("`no-such-stream`") && error.contains("ResourceNotFoundException"), "{error}");
    let port = connector_testkit::free_port().unwrap();
    let nowhere = common::sdk(&format!("http://127.0.0.1:{port}")).await;
    let error = run(source(&nowhere, "s", StartingPosition::Latest).build().unwrap()).await;
    assert!(error.contains(&format!("127.0.0.1:{port}")), "{error}");
}

#[test]
fn invalid_options_are_rejected_naming_them() {
    let sdk = SdkConfig::builder().build();
    let err = |b: KinesisStreamsSourceBuilder| b.build().err().map(|e| e.to_string()).unwrap_or_default();
    let base = || source(&sdk, "s", StartingPosition::Latest);
    assert!(err(base().get_records_max(0)).contains("`get_records_max` = 0"));
    assert!(err(base().get_records_max(10_001)).contains("`get_records_max` = 10001"));
    assert!(err(base().shard_discovery_interval(Duration::ZERO)).contains("`shard_discovery_interval`"));
    assert!(err(base().fetchers_per_reader(0)).contains("`fetchers_per_reader` = 0"));
    assert!(err(source(&sdk, "", StartingPosition::Latest)).contains("`stream`"));
    assert!(err(base().enhanced_fan_out("no spaces")).contains("`enhanced_fan_out` = \"no spaces\""));
    let bad = StartingPosition::AtSequenceNumbers(BTreeMap::from([("shardId-0".into(), "12a".into())]));
    assert!(err(source(&sdk, "s", bad)).contains("shardId-0=\"12a\""));
}

/// FLIP-33 source metrics of the polling and the enhanced fan-out reader: bytes read,
/// and the distance to the shard's tip that Kinesis reports (`MillisBehindLatest`;
/// kinesis-local's value is only checked for presence).
#[test]
fn the_bytes_read_and_the_distance_to_the_tip_are_reported() {
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};

    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let ids: Vec<u64> = (0..100).collect();
    let expected: usize = common::keyed(&ids).iter().map(|(_, value)| value.len()).sum();
    for fan_out in [None, Some("metrics-consumer")] {
        let read_ids = metrics::with_local_recorder(&recorder, || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(async {
                let sdk = common::server().await?;
                let stream = common::stream(&sdk, "metrics", 1).await;
                common::put(&sdk, &stream, &common::keyed(&ids)).await;
                let builder = source(&sdk, &stream, StartingPosition::TrimHorizon);
                let builder = match fan_out {
                    Some(consumer) => builder.enhanced_fan_out(consumer),
                    None => builder,
                };
                Some(read(builder.build().unwrap(), ids.len(), async {}).await)
            })
        });
        let Some(read_ids) = read_ids else { return };
        assert_eq!(read_ids, ids, "fan-out: {fan_out:?}");
        // A snapshot hands out what was counted since the last one.
        let values = snapshotter.snapshot().into_vec();
        let ours = |name: &'static str| {
            values.iter().filter(move |(key, _, _, _)| {
                key.key().name() == name
                    && key.key().labels().any(|l| l.key() == "connector" && l.value() == "kinesis")
                    && key.key().labels().any(|l| l.key() == "job" && l.value() == "kinesis-source")
            })
        };
        let bytes: u64 = ours("connector_source_bytes_in_total")
            .map(|(_, _, _, v)| match v {
                DebugValue::Counter(n) => *n,
                _ => 0,
            })
            .sum();
        assert_eq!(bytes, expected as u64, "fan-out: {fan_out:?}");
        assert!(ours("connector_source_fetch_lag_seconds").count() > 0, "fetch lag registered");
    }
}

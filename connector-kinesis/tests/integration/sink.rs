//! KinesisStreamsSink behaviour against kinesis-local: records land in the shard of
//! their partition key, a partly failed batch, bad input.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::time::Duration;

use connector_base::async_sink::{AsyncSinkClient, SubmitResult};
use connector_base::schema::Utf8Schema;
use connector_kinesis::aws_config::{BehaviorVersion, SdkConfig};
use connector_kinesis::aws_sdk_kinesis::config::{Credentials, Region};
use connector_kinesis::sink::KinesisClient;
use connector_kinesis::{KinesisEntry, KinesisStreamsSink, KinesisStreamsSinkBuilder};
use stream_core::prelude::*;

async fn run(sink: KinesisStreamsSink<String>, records: u64) -> Result<(), String> {
    StreamEnvironment::builder()
        .checkpointing(CheckpointConfig::builder().interval(Duration::from_millis(200)).build().unwrap())
        .restart_strategy(RestartStrategy::None)
        .parallelism(1)
        .build()
        .unwrap()
        .from_source(CollectionSource::sequence(0..records), "records")
        .map(|i| format!("record-{i}"))
        .sink_to(sink, "kinesis")
        .execute("kinesis-sink")
        .await
        .map(drop)
        .map_err(|e| e.to_string())
}

fn sink(sdk: &SdkConfig, stream: &str) -> KinesisStreamsSinkBuilder<String> {
    KinesisStreamsSinkBuilder::new(sdk, stream, Utf8Schema, |r: &String| common::key_of(r))
}

/// With one request in flight, batches land in the order they were made (with more,
/// a later batch may overtake an earlier one, as in Flink).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_of_one_key_land_in_one_shard_in_order_with_one_request_in_flight() {
    let Some(sdk) = common::server().await else { return };
    let stream = common::stream(&sdk, "keys", 4).await;
    run(sink(&sdk, &stream).max_batch_size(37).max_in_flight_requests(1).build().unwrap(), 2_000).await.unwrap();
    let records = common::read_all(&sdk, &stream).await;
    assert_eq!(records.len(), 2_000);
    let mut shard_of = std::collections::HashMap::new();
    let mut last = std::collections::HashMap::new();
    for (shard, key, data) in &records {
        assert_eq!(shard_of.entry(key.clone()).or_insert(shard.clone()), shard, "{key} in two shards");
        let id: u64 = data.strip_prefix("record-").unwrap().parse().unwrap();
        let before = last.insert(key.clone(), id);
        assert!(before.is_none_or(|b| b < id), "{key}: {before:?} then {id}");
    }
    assert!(shard_of.values().collect::<std::collections::HashSet<_>>().len() > 1, "keys spread over shards");
}

/// kinesis-local refuses an oversized entry by itself (`InvalidArgumentException`)
/// and accepts the others: the good entries are written once, and the refusal is
/// fatal (sending it again cannot help), naming the code and the server's reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partly_failed_batch_writes_the_good_entries_once_and_names_the_refusal() {
    let Some(sdk) = common::server().await else { return };
    let stream = common::stream(&sdk, "partial", 1).await;
    let client = KinesisClient::new(&sdk, &stream);
    let mut batch: Vec<KinesisEntry> = (0..4)
        .map(|i| KinesisEntry { data: format!("record-{i}").into_bytes(), partition_key: format!("k{i}") })
        .collect();
    batch.insert(2, KinesisEntry { data: vec![b'x'; 1024 * 1024 + 10], partition_key: "big".into() });
    match client.submit(batch).await {
        SubmitResult::Fatal(error) => {
            assert!(
                matches!(
                    error.find::<connector_kinesis::KinesisError>(),
                    Some(connector_kinesis::KinesisError::Rejected { .. })
                ),
                "the connector's error, to match on: {error:?}"
            );
            let message = error.to_string();
            assert!(message.contains("InvalidArgumentException") && message.contains(&stream), "{message}");
            assert!(message.contains("1048586"), "the server's reason names the size: {message}");
        }
        SubmitResult::Success => panic!("an oversized entry was accepted"),
        SubmitResult::Retry(entries) => panic!("a permanent refusal was retried: {} entries", entries.len()),
    }
    let mut written: Vec<String> = common::read_all(&sdk, &stream).await.into_iter().map(|(_, _, d)| d).collect();
    written.sort();
    assert_eq!(written, ["record-0", "record-1", "record-2", "record-3"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_stream_fails_at_start_naming_it_and_the_endpoint() {
    let Some(sdk) = common::server().await else { return };
    let error = run(sink(&sdk, "no-such-stream").build().unwrap(), 10).await.unwrap_err();
    assert!(error.contains("`no-such-stream`") && error.contains("ResourceNotFoundException"), "{error}");
    assert!(error.contains("http://"), "the endpoint is named: {error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_in_another_region_is_not_found_naming_the_stream() {
    let Some(sdk) = common::server().await else { return };
    let stream = common::stream(&sdk, "region", 1).await;
    let elsewhere = connector_kinesis::aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("eu-west-1"))
        .endpoint_url(sdk.endpoint_url().unwrap())
        .credentials_provider(Credentials::new("test", "test", None, None, "tests"))
        .load()
        .await;
    let error = run(sink(&elsewhere, &stream).build().unwrap(), 10).await.unwrap_err();
    assert!(error.contains(&format!("`{stream}`")) && error.contains("ResourceNotFoundException"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_endpoint_fails_naming_it() {
    let port = connector_testkit::free_port().unwrap();
    let sdk = common::sdk(&format!("http://127.0.0.1:{port}")).await;
    let error = run(sink(&sdk, "s").build().unwrap(), 10).await.unwrap_err();
    assert!(error.contains(&format!("127.0.0.1:{port}")), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_over_the_limit_and_an_empty_key_fail_naming_them_and_nothing_is_lost_before() {
    let Some(sdk) = common::server().await else { return };
    let stream = common::stream(&sdk, "too-large", 1).await;
    let big = KinesisStreamsSinkBuilder::new(&sdk, &stream, Utf8Schema, |r: &String| common::key_of(r));
    let big = big.build().unwrap();
    let error = StreamEnvironment::builder()
        .restart_strategy(RestartStrategy::None)
        .parallelism(1)
        .build()
        .unwrap()
        .from_source(CollectionSource::sequence(0..100u64), "records")
        .map(|i| if i == 50 { "x".repeat(1024 * 1024) } else { format!("record-{i}") })
        .sink_to(big, "kinesis")
        .execute("too-large")
        .await
        .map(drop)
        .unwrap_err()
        .to_string();
    assert!(error.contains("exceeds max_record_size_in_bytes = 1048576"), "{error}");
    let empty_key =
        KinesisStreamsSinkBuilder::new(&sdk, &stream, Utf8Schema, |_: &String| String::new()).build().unwrap();
    let error = run(empty_key, 10).await.unwrap_err();
    assert!(error.contains("`partition_key`") && error.contains("1 to 256"), "{error}");
}

#[test]
fn invalid_options_are_rejected_naming_them() {
    let sdk = SdkConfig::builder().build();
    let err = |b: KinesisStreamsSinkBuilder<String>| b.build().err().map(|e| e.to_string()).unwrap_or_default();
    assert!(err(sink(&sdk, "s").max_batch_size(501)).contains("`max_batch_size` = 501"));
    assert!(err(sink(&sdk, "s").max_batch_size(0)).contains("`max_batch_size` = 0"));
    assert!(err(sink(&sdk, "s").max_record_size_in_bytes(2 << 20)).contains("PutRecords takes at most 1048576"));
    assert!(err(sink(&sdk, "s").max_batch_size_in_bytes(6 << 20)).contains("`max_batch_size_in_bytes`"));
    assert!(err(sink(&sdk, "bad name!")).contains("`stream`"));
    assert!(err(sink(&sdk, "s").max_buffered_requests(100)).contains("`max_buffered_requests` = 100"));
}

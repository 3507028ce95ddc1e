//! FirehoseSink's bad input: a missing delivery stream, an unreachable endpoint, an
//! oversized record and bad options fail with clear errors.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::time::Duration;

use connector_base::schema::Utf8Schema;
use connector_firehose::{FirehoseSink, FirehoseSinkBuilder};
use connector_testkit::{TestServer, servers};
use stream_core::prelude::*;

async fn run(sink: FirehoseSink<String>, records: Vec<String>) -> Result<(), String> {
    StreamEnvironment::builder()
        .checkpointing(CheckpointConfig::builder().interval(Duration::from_millis(200)).build().unwrap())
        .restart_strategy(RestartStrategy::None)
        .parallelism(1)
        .build()
        .unwrap()
        .from_source(CollectionSource::new(records), "records")
        .sink_to(sink, "firehose")
        .execute("firehose-sink")
        .await
        .map(drop)
        .map_err(|e| e.to_string())
}

fn lines(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("line-{i}\n")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_record_arrives_in_the_bucket() {
    let Some((sdk, stream, store)) = common::stream("plain").await else { return };
    let sink = FirehoseSinkBuilder::new(&sdk, &stream, Utf8Schema).build().unwrap();
    run(sink, lines(1_200)).await.unwrap();
    let mut delivered = common::delivered(&store).await;
    delivered.sort();
    let mut expected: Vec<String> = lines(1_200).iter().map(|l| l.trim_end().to_string()).collect();
    expected.sort();
    assert_eq!(delivered, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_stream_fails_at_start_naming_it_and_the_endpoint() {
    let Some(server) = TestServer::discover(&servers::FIREHOSE).await.unwrap() else { return };
    let sdk = common::sdk(&server.endpoint).await;
    let sink = FirehoseSinkBuilder::new(&sdk, "no-such-stream", Utf8Schema).build().unwrap();
    let error = run(sink, lines(10)).await.unwrap_err();
    assert!(error.contains("`no-such-stream`") && error.contains("ResourceNotFoundException"), "{error}");
    assert!(error.contains(&server.endpoint), "the endpoint is named: {error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_endpoint_fails_naming_it() {
    let port = connector_testkit::free_port().unwrap();
    let sdk = common::sdk(&format!("http://127.0.0.1:{port}")).await;
    let sink = FirehoseSinkBuilder::new(&sdk, "s", Utf8Schema).build().unwrap();
    let error = run(sink, lines(10)).await.unwrap_err();
    assert!(error.contains(&format!("127.0.0.1:{port}")), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_over_the_limit_fails_naming_its_size_and_the_limit() {
    let Some((sdk, stream, _)) = common::stream("too-large").await else { return };
    let sink = FirehoseSinkBuilder::new(&sdk, &stream, Utf8Schema).build().unwrap();
    let mut records = lines(10);
    records.push("x".repeat(1_100 * 1024));
    let error = run(sink, records).await.unwrap_err();
    assert!(error.contains("record of 1126400 bytes exceeds max_record_size_in_bytes = 1024000"), "{error}");
}

#[test]
fn invalid_options_are_rejected_naming_them() {
    let sdk = connector_firehose::aws_config::SdkConfig::builder().build();
    let base = || FirehoseSinkBuilder::<String>::new(&sdk, "s", Utf8Schema);
    let err =
        |b: connector_firehose::FirehoseSinkBuilder<String>| b.build().err().map(|e| e.to_string()).unwrap_or_default();
    assert!(err(base().max_batch_size(501)).contains("`max_batch_size` = 501"));
    assert!(err(base().max_batch_size(0)).contains("`max_batch_size` = 0"));
    assert!(err(base().max_batch_size_in_bytes(5 << 20)).contains("`max_batch_size_in_bytes`"));
    assert!(err(base().max_record_size_in_bytes(2 << 20)).contains("`max_record_size_in_bytes`"));
    assert!(err(FirehoseSinkBuilder::<String>::new(&sdk, "", Utf8Schema)).contains("`delivery_stream`"));
    assert!(base().build().is_ok());
}

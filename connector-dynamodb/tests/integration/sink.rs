//! DynamoDbSink's behaviour on DynamoDB Local beyond the guarantee suites: keys
//! repeated inside one batch, and bad input (missing table, unreachable endpoint,
//! oversized item, bad options) failing with clear errors.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::time::Duration;

use connector_base::DeliveryGuarantee;
use connector_dynamodb::{DynamoDbSink, DynamoDbSinkBuilder, DynamoDbWriteRequest};
use stream_core::prelude::*;

async fn run(sink: DynamoDbSink<u64>, records: u64) -> Result<(), String> {
    StreamEnvironment::builder()
        .checkpointing(CheckpointConfig::builder().interval(Duration::from_millis(200)).build().unwrap())
        .restart_strategy(RestartStrategy::None)
        .parallelism(1)
        .build()
        .unwrap()
        .from_source(CollectionSource::sequence(0..records), "records")
        .sink_to(sink, "dynamodb")
        .execute("dynamodb-sink")
        .await
        .map(drop)
        .map_err(|e| e.to_string())
}

/// Record `i` writes version `i` of key `k-{i % 10}`: ten keys, each written 30 times.
fn versioned(i: u64) -> DynamoDbWriteRequest {
    DynamoDbWriteRequest::put(&common::Row {
        pk: format!("k-{}", i % 10),
        id: i % 10,
        version: i,
        payload: String::new(),
    })
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_repeated_in_a_batch_keeps_the_newest_version() {
    let Some(sdk) = common::server().await else { return };
    let table = common::table(&sdk, "overwrite").await;
    let sink = DynamoDbSinkBuilder::new(&sdk, &table, |i| Ok(versioned(i)))
        .delivery_guarantee(DeliveryGuarantee::ExactlyOnce)
        .overwrite_by_partition_keys(["pk"])
        .build()
        .unwrap();
    run(sink, 300).await.unwrap();
    let mut items = common::scan(&sdk, &table).await;
    items.sort();
    let expected: Vec<_> = (0..10).map(|k| (format!("k-{k}"), k, 290 + k)).collect();
    assert_eq!(items, expected, "each key holds its last version");

    // Without the option DynamoDB refuses such a batch, and the job says so.
    let sink = DynamoDbSinkBuilder::new(&sdk, &table, |i| Ok(versioned(i))).build().unwrap();
    let error = run(sink, 300).await.unwrap_err();
    assert!(error.contains("ValidationException") && error.contains(&table), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_table_fails_at_start_naming_it_and_the_endpoint() {
    let Some(sdk) = common::server().await else { return };
    let sink = DynamoDbSinkBuilder::new(&sdk, "no-such-table", |i| Ok(common::row(i))).build().unwrap();
    let error = run(sink, 10).await.unwrap_err();
    assert!(error.contains("`no-such-table`") && error.contains("ResourceNotFoundException"), "{error}");
    assert!(error.contains("http://"), "the endpoint is named: {error}");

    // No restart can create the table: the job fails on its first attempt, whatever
    // the restart strategy allows.
    let sink = DynamoDbSinkBuilder::new(&sdk, "no-such-table", |i| Ok(common::row(i))).build().unwrap();
    let result = StreamEnvironment::builder()
        .restart_strategy(RestartStrategy::fixed_delay(3, Duration::from_millis(500)))
        .build()
        .unwrap()
        .from_source(CollectionSource::sequence(0..10), "records")
        .sink_to(sink, "dynamodb")
        .execute("dynamodb-missing-table")
        .await;
    let error = result.err().unwrap();
    assert!(error.is_permanent(), "{error}");
    assert!(error.to_string().contains("after 1 attempt"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_endpoint_fails_naming_it() {
    let port = connector_testkit::free_port().unwrap();
    let sdk = common::sdk(&format!("http://127.0.0.1:{port}")).await;
    let sink = DynamoDbSinkBuilder::new(&sdk, "t", |i| Ok(common::row(i))).build().unwrap();
    let error = run(sink, 10).await.unwrap_err();
    assert!(error.contains(&format!("127.0.0.1:{port}")), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_item_over_the_limit_fails_naming_its_size_and_the_limit() {
    let Some(sdk) = common::server().await else { return };
    let table = common::table(&sdk, "too-large").await;
    let sink = DynamoDbSinkBuilder::new(&sdk, &table, |i| {
        let payload = if i == 50 { "x".repeat(500 * 1024) } else { String::new() };
        DynamoDbWriteRequest::put(&common::Row { pk: format!("k-{i}"), id: i, version: 1, payload })
    })
    .build()
    .unwrap();
    let error = run(sink, 100).await.unwrap_err();
    // 512 000 bytes of payload plus the other attributes and their names.
    assert!(error.contains("record of 5120") && error.contains("exceeds max_record_size_in_bytes = 409600"), "{error}");
}

#[test]
fn invalid_options_are_rejected_naming_them() {
    let sdk = connector_dynamodb::aws_config::SdkConfig::builder().build();
    let base = || DynamoDbSinkBuilder::<u64>::new(&sdk, "t", |i| Ok(common::row(i)));
    let err =
        |b: connector_dynamodb::DynamoDbSinkBuilder<u64>| b.build().err().map(|e| e.to_string()).unwrap_or_default();
    assert!(err(base().max_batch_size(26)).contains("`max_batch_size` = 26"));
    assert!(err(base().max_batch_size(0)).contains("`max_batch_size` = 0"));
    assert!(err(base().max_record_size_in_bytes(500_000)).contains("`max_record_size_in_bytes` = 500000"));
    assert!(err(base().max_batch_size_in_bytes(20 << 20)).contains("`max_batch_size_in_bytes`"));
    let eos = base().delivery_guarantee(DeliveryGuarantee::ExactlyOnce).max_in_flight_requests(4);
    assert!(err(eos).contains("`max_in_flight_requests` = 4"));
    assert!(err(base().delivery_guarantee(DeliveryGuarantee::AtMostOnce)).contains("`delivery_guarantee`"));
    assert!(err(DynamoDbSinkBuilder::<u64>::new(&sdk, " ", |i| Ok(common::row(i)))).contains("`table`"));
    assert!(err(base().overwrite_by_partition_keys(Vec::<String>::new())).contains("`overwrite_by_partition_keys`"));
    assert!(base().build().is_ok());
}

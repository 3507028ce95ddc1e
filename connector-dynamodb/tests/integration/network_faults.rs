//! The testkit's network-fault suite on the DynamoDB sink (at-least-once and
//! exactly-once) through a fault proxy in front of the test server: cuts with short
//! and long refusal, latency and short stalls lose nothing, duplicate nothing beyond
//! the guarantee and need no restart.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use common::InTable;
use connector_base::DeliveryGuarantee;
use connector_dynamodb::DynamoDbSinkBuilder;
use connector_testkit::NetworkSuite;
use connector_testkit::proxy::{FaultProxy, NetworkFault};

async fn run(guarantee: DeliveryGuarantee) {
    let Some(endpoint) = common::endpoint().await else { return };
    let proxy = FaultProxy::for_endpoint(&endpoint).await.unwrap();
    let (sdk, via) = (common::sdk(&endpoint).await, common::sdk(&proxy.endpoint_for(&endpoint)).await);
    // The sink's request_timeout bounds a batch (default 10 min); its stalls are short.
    let suite = NetworkSuite::new(&proxy, Duration::from_secs(30));
    suite
        .run_sink(|| async {
            let table = common::table(&sdk, "net-sink").await;
            Arc::new(InTable { sdk: sdk.clone(), table, guarantee, via: Some(via.clone()), configure: |b| b })
        })
        .await
        .unwrap();
    let stats = proxy.stats();
    assert!(stats.cut + stats.refused > 0, "the faults reached the connections: {stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exactly_once_sink_rides_through_network_faults() {
    run(DeliveryGuarantee::ExactlyOnce).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_least_once_sink_rides_through_network_faults() {
    run(DeliveryGuarantee::AtLeastOnce).await;
}

/// A stall past request_timeout fails the sink naming it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stall_past_request_timeout_fails_the_sink_naming_it() {
    let Some(endpoint) = common::endpoint().await else { return };
    let proxy = FaultProxy::for_endpoint(&endpoint).await.unwrap();
    let (sdk, via) = (common::sdk(&endpoint).await, common::sdk(&proxy.endpoint_for(&endpoint)).await);
    let table = common::table(&sdk, "net-stall").await;
    let timeout = Duration::from_secs(3);
    let guarantee = DeliveryGuarantee::ExactlyOnce;
    let configure = |b: DynamoDbSinkBuilder<u64>| b.request_timeout(Duration::from_secs(3));
    let target = InTable { sdk, table, guarantee, via: Some(via), configure };
    let suite = NetworkSuite::new(&proxy, Duration::from_secs(30));
    suite.sink_stall_past_timeout(Arc::new(target), timeout, "request_timeout", Duration::from_secs(3)).await.unwrap();
}

/// Connections that go silent for good (no answer, no close) are left behind after
/// the sink's call_timeout: the job ends within 30 s of the faults, with nothing lost and
/// no restart. (Without it, each silent request would hold its batch until
/// request_timeout, 10 min.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_silenced_for_good_are_left_after_call_timeout() {
    let Some(endpoint) = common::endpoint().await else { return };
    let proxy = FaultProxy::for_endpoint(&endpoint).await.unwrap();
    let (sdk, via) = (common::sdk(&endpoint).await, common::sdk(&proxy.endpoint_for(&endpoint)).await);
    let silences = NetworkFault::Silences { every: Duration::from_millis(1000)..Duration::from_millis(2000) };
    let suite = NetworkSuite::new(&proxy, Duration::from_secs(30)).faults(vec![silences]);
    suite
        .run_sink(|| async {
            let table = common::table(&sdk, "net-silent").await;
            let guarantee = DeliveryGuarantee::AtLeastOnce;
            let configure = |b: DynamoDbSinkBuilder<u64>| b.call_timeout(Duration::from_secs(2));
            Arc::new(InTable { sdk: sdk.clone(), table, guarantee, via: Some(via.clone()), configure })
        })
        .await
        .unwrap();
    let stats = proxy.stats();
    eprintln!("proxy: {stats:?}");
    assert!(stats.silenced > 0, "the silences reached live connections: {stats:?}");
}

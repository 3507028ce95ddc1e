//! The testkit's network-fault suite on the Firehose sink through a fault proxy in
//! front of the test server: cuts with short and long refusal, latency and short
//! stalls lose nothing and need no restart.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::ToBucket;
use connector_testkit::NetworkSuite;
use connector_testkit::proxy::FaultProxy;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sink_rides_through_network_faults() {
    let Some(endpoint) = common::endpoint().await else { return };
    let proxy = FaultProxy::for_endpoint(&endpoint).await.unwrap();
    let via = common::sdk(&proxy.endpoint_for(&endpoint)).await;
    // The sink's request_timeout bounds a batch (default 10 min); its stalls are short.
    let suite = NetworkSuite::new(&proxy, Duration::from_secs(30));
    suite
        .run_sink(|| async {
            let (sdk, stream, store) = common::stream("net-sink").await.unwrap();
            Arc::new(ToBucket { sdk, stream, store, via: Some(via.clone()), request_timeout: None })
        })
        .await
        .unwrap();
    let stats = proxy.stats();
    assert!(stats.cut + stats.refused > 0, "the faults reached the connections: {stats:?}");
}

/// A stall past request_timeout fails the sink naming it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stall_past_request_timeout_fails_the_sink_naming_it() {
    let Some(endpoint) = common::endpoint().await else { return };
    let proxy = FaultProxy::for_endpoint(&endpoint).await.unwrap();
    let via = common::sdk(&proxy.endpoint_for(&endpoint)).await;
    let (sdk, stream, store) = common::stream("net-stall").await.unwrap();
    let timeout = Duration::from_secs(3);
    let target = ToBucket { sdk, stream, store, via: Some(via), request_timeout: Some(timeout) };
    let suite = NetworkSuite::new(&proxy, Duration::from_secs(30));
    suite.sink_stall_past_timeout(Arc::new(target), timeout, "request_timeout", Duration::from_secs(3)).await.unwrap();
}

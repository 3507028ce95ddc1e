//! The testkit's network-fault suite on the Firehose sink through a fault proxy in
//! front of the test server: cuts with short and long refusal, latency, short
//! stalls and connections silenced for good lose nothing and need no restart.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use common::ToBucket;
use connector_firehose::FirehoseSinkBuilder;
use connector_firehose::aws_config::timeout::TimeoutConfig;
use connector_testkit::NetworkSuite;
use connector_testkit::proxy::{FaultProxy, NetworkFault};

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
            Arc::new(ToBucket { sdk, stream, store, via: Some(via.clone()), configure: |b| b })
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
    let configure = |b: FirehoseSinkBuilder<String>| b.request_timeout(Duration::from_secs(3));
    let target = ToBucket { sdk, stream, store, via: Some(via), configure };
    let suite = NetworkSuite::new(&proxy, Duration::from_secs(30));
    suite.sink_stall_past_timeout(Arc::new(target), timeout, "request_timeout", Duration::from_secs(3)).await.unwrap();
}

/// Connections that go silent for good (no answer, no close) are left behind after
/// the sink's call_timeout: the job ends within 30 s of the faults, with nothing lost and
/// no restart. (Without it, each silent request would hold its batch until
/// request_timeout, 10 min.) The SDK's own attempt timeout, which the other tests
/// set against moto's pauses, is off here so that only the sink's bound acts. moto
/// closes every connection after one request, so only a request in flight can be
/// silenced: the silences come every 20-60 ms.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_silenced_for_good_are_left_after_call_timeout() {
    let Some(endpoint) = common::endpoint().await else { return };
    let proxy = FaultProxy::for_endpoint(&endpoint).await.unwrap();
    let via = common::sdk(&proxy.endpoint_for(&endpoint)).await.to_builder().timeout_config(TimeoutConfig::disabled());
    let via = via.build();
    let silences = NetworkFault::Silences { every: Duration::from_millis(20)..Duration::from_millis(60) };
    let suite = NetworkSuite::new(&proxy, Duration::from_secs(30)).faults(vec![silences]);
    suite
        .run_sink(|| async {
            let (sdk, stream, store) = common::stream("net-silent").await.unwrap();
            let configure = |b: FirehoseSinkBuilder<String>| b.call_timeout(Duration::from_secs(2));
            Arc::new(ToBucket { sdk, stream, store, via: Some(via.clone()), configure })
        })
        .await
        .unwrap();
    let stats = proxy.stats();
    eprintln!("proxy: {stats:?}");
    assert!(stats.silenced > 0, "the silences reached live connections: {stats:?}");
}

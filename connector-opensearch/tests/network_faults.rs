//! The testkit's network-fault suite on the OpenSearch sink through a fault proxy
//! in front of the test server: cuts with short and long refusal, latency and short
//! stalls lose nothing, duplicate nothing (deterministic ids) and need no restart;
//! connections silenced for good are left after call_timeout; a stall past
//! request_timeout fails the sink naming it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use connector_base::DeliveryGuarantee;
use connector_opensearch::OpenSearch;
use connector_search::testing::IndexTarget;
use connector_testkit::proxy::{FaultProxy, NetworkFault};
use connector_testkit::{NetworkSuite, TestServer, servers};

/// The test server and a proxy in front of it.
async fn proxied() -> Option<(String, FaultProxy)> {
    let server = TestServer::discover(&servers::OPENSEARCH).await.unwrap()?;
    let proxy = FaultProxy::for_endpoint(&server.endpoint).await.unwrap();
    Some((server.endpoint.clone(), proxy))
}

/// A fresh index whose sink (exactly-once) writes through `proxy`.
async fn index(endpoint: &str, proxy: &FaultProxy, test: &str) -> IndexTarget<OpenSearch> {
    let mut target = IndexTarget::new(endpoint, test, DeliveryGuarantee::ExactlyOnce).await.unwrap();
    target.via = Some(proxy.endpoint_for(endpoint));
    target
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sink_rides_through_network_faults() {
    let Some((endpoint, proxy)) = proxied().await else { return };
    let suite = NetworkSuite::new(&proxy, Duration::from_secs(30));
    suite.run_sink(|| async { Arc::new(index(&endpoint, &proxy, "net-sink").await) }).await.unwrap();
    let stats = proxy.stats();
    assert!(stats.cut + stats.refused > 0, "the faults reached the connections: {stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_silenced_for_good_are_left_after_call_timeout() {
    let Some((endpoint, proxy)) = proxied().await else { return };
    let silences = NetworkFault::Silences { every: Duration::from_millis(1000)..Duration::from_millis(2000) };
    let suite = NetworkSuite::new(&proxy, Duration::from_secs(30))
        .faults(vec![silences])
        .finish_within(Duration::from_secs(10));
    suite
        .run_sink(|| async {
            let mut target = index(&endpoint, &proxy, "net-silent").await;
            target.configure = |b| b.call_timeout(Duration::from_secs(2));
            Arc::new(target)
        })
        .await
        .unwrap();
    let stats = proxy.stats();
    eprintln!("proxy: {stats:?}");
    assert!(stats.silenced > 0, "the silences reached live connections: {stats:?}");
}

/// A stall past request_timeout fails the sink naming it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stall_past_request_timeout_fails_the_sink_naming_it() {
    let Some((endpoint, proxy)) = proxied().await else { return };
    let mut target = index(&endpoint, &proxy, "net-stall").await;
    target.configure = |b| b.request_timeout(Duration::from_secs(3));
    let suite = NetworkSuite::new(&proxy, Duration::from_secs(30));
    let timeout = Duration::from_secs(3);
    suite.sink_stall_past_timeout(Arc::new(target), timeout, "request_timeout", Duration::from_secs(3)).await.unwrap();
}

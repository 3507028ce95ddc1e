//! The testkit's network-fault suite on the Cassandra sink through a fault proxy in
//! front of the CQL test server: cuts with short and long refusal, latency and short
//! stalls lose nothing, duplicate nothing beyond the guarantee and need no restart;
//! a stall past `request_timeout` and `retry_timeout` fails the sink naming the
//! latter.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use common::ToTable;
use connector_base::DeliveryGuarantee;
use connector_testkit::NetworkSuite;
use connector_testkit::proxy::FaultProxy;

/// The sink's default request_timeout.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(12);

async fn server() -> Option<(String, FaultProxy)> {
    let contact = common::server().await?;
    let proxy = FaultProxy::for_endpoint(&contact).await.unwrap();
    Some((contact, proxy))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exactly_once_sink_rides_through_network_faults() {
    let Some((contact, proxy)) = server().await else { return };
    let via = proxy.endpoint_for(&contact);
    let suite = NetworkSuite::new(&proxy, REQUEST_TIMEOUT);
    suite.run_sink(|| ToTable::through("net", DeliveryGuarantee::ExactlyOnce, via.clone())).await.unwrap();
    let stats = proxy.stats();
    assert!(stats.cut + stats.refused > 0, "the faults reached the connections: {stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stall_past_the_retry_timeout_fails_the_sink_naming_it() {
    let Some((contact, proxy)) = server().await else { return };
    let target = ToTable::through("net_stall", DeliveryGuarantee::ExactlyOnce, proxy.endpoint_for(&contact)).await;
    let mut target = Arc::unwrap_or_clone(target);
    target.configure = |b| b.request_timeout(Duration::from_secs(1)).retry_timeout(Duration::from_secs(3));
    let suite = NetworkSuite::new(&proxy, REQUEST_TIMEOUT);
    let took = suite
        .sink_stall_past_timeout(Arc::new(target), Duration::from_secs(3), "retry_timeout", Duration::from_secs(5))
        .await
        .unwrap();
    eprintln!("failed {took:?} after the stall began");
}

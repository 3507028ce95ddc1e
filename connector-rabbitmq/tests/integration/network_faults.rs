//! The testkit's network-fault suite on the RabbitMQ source (at-least-once and
//! exactly-once) and sink through a fault proxy in front of the real broker: cuts
//! with short and long refusal, latency and short stalls lose nothing, duplicate
//! nothing beyond the guarantee and need no restart.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use common::{InQueue, OutQueue};
use connector_base::DeliveryGuarantee;
use connector_testkit::NetworkSuite;
use connector_testkit::proxy::FaultProxy;

/// The connector's default operation_timeout.
const OPERATION_TIMEOUT: Duration = Duration::from_secs(30);

async fn broker() -> Option<(String, FaultProxy)> {
    let url = common::server().await?;
    let proxy = FaultProxy::for_endpoint(&url).await.unwrap();
    Some((url, proxy))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sink_rides_through_network_faults() {
    let Some((url, proxy)) = broker().await else { return };
    let via = proxy.endpoint_for(&url);
    let suite = NetworkSuite::new(&proxy, OPERATION_TIMEOUT);
    suite.run_sink(|| OutQueue::through(url.clone(), via.clone(), "net-out")).await.unwrap();
    let stats = proxy.stats();
    assert!(stats.cut + stats.refused > 0, "the faults reached the connections: {stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_least_once_source_rides_through_network_faults() {
    let Some((url, proxy)) = broker().await else { return };
    let via = proxy.endpoint_for(&url);
    let suite = NetworkSuite::new(&proxy, OPERATION_TIMEOUT);
    suite
        .run_source(|| InQueue::through(url.clone(), via.clone(), "net-in", DeliveryGuarantee::AtLeastOnce))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exactly_once_source_rides_through_network_faults() {
    let Some((url, proxy)) = broker().await else { return };
    let via = proxy.endpoint_for(&url);
    // Exactly-once de-duplicates in one consumer.
    let suite = NetworkSuite::new(&proxy, OPERATION_TIMEOUT).parallelism(1);
    suite
        .run_source(|| InQueue::through(url.clone(), via.clone(), "net-in-eo", DeliveryGuarantee::ExactlyOnce))
        .await
        .unwrap();
}

/// A stall past `operation_timeout` fails the sink naming it: a publish or its
/// confirm gets no answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stall_past_operation_timeout_fails_the_sink_naming_it() {
    let Some((url, proxy)) = broker().await else { return };
    let mut target = Arc::unwrap_or_clone(OutQueue::through(url.clone(), proxy.endpoint_for(&url), "net-stall").await);
    target.configure = |b| b.operation_timeout(Duration::from_secs(3));
    let suite = NetworkSuite::new(&proxy, OPERATION_TIMEOUT);
    let took = suite
        .sink_stall_past_timeout(Arc::new(target), Duration::from_secs(3), "operation_timeout", Duration::from_secs(3))
        .await
        .unwrap();
    eprintln!("failed {took:?} after the stall began");
}

/// A stall is noticed by AMQP heartbeats (2 s here, `?heartbeat=2`; the broker's
/// default is 60 s) or by an acknowledgement without answer within
/// operation_timeout; the reader then connects again, and fails naming
/// connect_timeout when no connection comes within it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stall_past_connect_timeout_fails_the_source_naming_it() {
    let Some((url, proxy)) = broker().await else { return };
    let via = format!("{}?heartbeat=2", proxy.endpoint_for(&url));
    let in_queue = InQueue::through(url.clone(), via, "net-stall-in", DeliveryGuarantee::AtLeastOnce).await;
    let mut target = Arc::unwrap_or_clone(in_queue);
    target.configure = |b| b.connect_timeout(Duration::from_secs(3));
    let suite = NetworkSuite::new(&proxy, OPERATION_TIMEOUT);
    // Two missed heartbeats, then the connect timeout.
    let timeout = Duration::from_secs(2 * 2 + 3);
    let took = suite
        .source_stall_past_timeout(Arc::new(target), timeout, "connect_timeout", Duration::from_secs(5))
        .await
        .unwrap();
    eprintln!("failed {took:?} after the stall began");
}

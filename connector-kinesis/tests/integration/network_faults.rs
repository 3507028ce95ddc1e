//! The testkit's network-fault suite on the Kinesis source (polling) and sink through
//! a fault proxy in front of the test server: cuts with short and long refusal,
//! latency and short stalls lose nothing, duplicate nothing beyond the guarantee and
//! need no restart (the stalls past the timeouts are in `network_stalls.rs`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use common::{FromStream, InStream};
use connector_testkit::NetworkSuite;

/// The AWS SDK's default read timeout does not apply without one set: the sink's
/// request_timeout (default 10 min) and the source's retry policy bound a call.
const OPERATION_TIMEOUT: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sink_rides_through_network_faults() {
    let Some((sdk, via, proxy)) = common::proxied().await else { return };
    let suite = NetworkSuite::new(&proxy, OPERATION_TIMEOUT);
    suite
        .run_sink(|| async {
            let stream = common::stream(&sdk, "net-sink", 2).await;
            Arc::new(InStream { sdk: sdk.clone(), stream, via: Some(via.clone()), configure: |b| b })
        })
        .await
        .unwrap();
    let stats = proxy.stats();
    assert!(stats.cut + stats.refused > 0, "the faults reached the connections: {stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn source_rides_through_network_faults() {
    let Some((sdk, via, proxy)) = common::proxied().await else { return };
    let suite = NetworkSuite::new(&proxy, OPERATION_TIMEOUT);
    suite
        .run_source(|| async {
            let stream = common::stream(&sdk, "net-source", 2).await;
            Arc::new(FromStream { sdk: sdk.clone(), stream, fan_out: None, via: Some(via.clone()), configure: |b| b })
        })
        .await
        .unwrap();
}

/// Connections that go silent for good (no answer, no close) are left behind after
/// the sink's call_timeout: the job ends within 30 s of the faults, with nothing lost and
/// no restart. (Without it, each silent request would hold its batch until
/// request_timeout, 10 min.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sink_leaves_connections_silenced_for_good_after_call_timeout() {
    use connector_testkit::proxy::NetworkFault;
    let Some((sdk, via, proxy)) = common::proxied().await else { return };
    let silences = NetworkFault::Silences { every: Duration::from_millis(1000)..Duration::from_millis(2000) };
    let suite = NetworkSuite::new(&proxy, OPERATION_TIMEOUT).faults(vec![silences]);
    suite
        .run_sink(|| async {
            let stream = common::stream(&sdk, "net-silent", 2).await;
            Arc::new(InStream {
                sdk: sdk.clone(),
                stream,
                via: Some(via.clone()),
                configure: |b| b.call_timeout(Duration::from_secs(2)),
            })
        })
        .await
        .unwrap();
    let stats = proxy.stats();
    eprintln!("proxy: {stats:?}");
    assert!(stats.silenced > 0, "the silences reached live connections: {stats:?}");
}

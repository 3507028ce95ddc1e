//! The testkit's network-fault suite on the Kinesis source (polling) and sink through
//! a fault proxy in front of the test server: cuts with short and long refusal,
//! latency and short stalls lose nothing, duplicate nothing beyond the guarantee and
//! need no restart; a stall past the sink's request_timeout fails it naming that.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{FromStream, InStream};
use connector_kinesis::aws_config::SdkConfig;
use connector_testkit::NetworkSuite;
use connector_testkit::proxy::FaultProxy;

/// The AWS SDK's default read timeout does not apply without one set: the sink's
/// request_timeout (default 10 min) and the source's retry policy bound a call.
const OPERATION_TIMEOUT: Duration = Duration::from_secs(30);

/// The server's SDK config, one through a proxy in front of it, and the proxy.
async fn proxied() -> Option<(SdkConfig, SdkConfig, FaultProxy)> {
    let endpoint = common::endpoint().await?;
    let proxy = FaultProxy::for_endpoint(&endpoint).await.unwrap();
    Some((common::sdk(&endpoint).await, common::sdk(&proxy.endpoint_for(&endpoint)).await, proxy))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sink_rides_through_network_faults() {
    let Some((sdk, via, proxy)) = proxied().await else { return };
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
    let Some((sdk, via, proxy)) = proxied().await else { return };
    let suite = NetworkSuite::new(&proxy, OPERATION_TIMEOUT);
    suite
        .run_source(|| async {
            let stream = common::stream(&sdk, "net-source", 2).await;
            Arc::new(FromStream { sdk: sdk.clone(), stream, fan_out: None, via: Some(via.clone()), configure: |b| b })
        })
        .await
        .unwrap();
}

/// A stall past request_timeout fails the sink naming it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stall_past_request_timeout_fails_the_sink_naming_it() {
    let Some((sdk, via, proxy)) = proxied().await else { return };
    let stream = common::stream(&sdk, "net-sink-stall", 1).await;
    let target = InStream { sdk, stream, via: Some(via), configure: |b| b.request_timeout(Duration::from_secs(3)) };
    let suite = NetworkSuite::new(&proxy, OPERATION_TIMEOUT);
    let timeout = Duration::from_secs(3);
    suite.sink_stall_past_timeout(Arc::new(target), timeout, "request_timeout", Duration::from_secs(3)).await.unwrap();
}

/// A stall fails each call after call_timeout; the source fails once its retry
/// policy gives up, naming it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stall_past_call_timeout_and_retry_fails_the_source_naming_it() {
    use stream_core::retry::RetryPolicy;
    let Some((sdk, via, proxy)) = proxied().await else { return };
    let stream = common::stream(&sdk, "net-source-stall", 1).await;
    let target = FromStream {
        sdk,
        stream,
        fan_out: None,
        via: Some(via),
        configure: |b| {
            let retry = RetryPolicy::exponential(Duration::from_millis(100), Duration::from_secs(1))
                .give_up_after(Duration::from_secs(3));
            b.call_timeout(Duration::from_secs(2)).retry(retry)
        },
    };
    let suite = NetworkSuite::new(&proxy, OPERATION_TIMEOUT);
    let timeout = Duration::from_secs(2 + 3);
    suite.source_stall_past_timeout(Arc::new(target), timeout, "retry policy", Duration::from_secs(4)).await.unwrap();
}

//! Stalls past the Kinesis connector's timeouts through a fault proxy: the sink fails
//! naming request_timeout, the source naming its retry policy. In a test binary of
//! their own, so that in CI they get a server of their own: kinesis-local once lost
//! its listener after connections stalled mid-request were closed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use common::{FromStream, InStream};
use connector_testkit::NetworkSuite;

/// See `network_faults.rs`.
const OPERATION_TIMEOUT: Duration = Duration::from_secs(30);

/// A stall past request_timeout fails the sink naming it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stall_past_request_timeout_fails_the_sink_naming_it() {
    let Some((sdk, via, proxy)) = common::proxied().await else { return };
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
    let Some((sdk, via, proxy)) = common::proxied().await else { return };
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

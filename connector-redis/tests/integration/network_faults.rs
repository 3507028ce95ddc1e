//! The testkit's network-fault suite on the Redis sink and source through a fault
//! proxy in front of the real server: cuts with short and long refusal, latency and
//! short stalls lose nothing, duplicate nothing beyond the guarantee and need no
//! restart; a stall longer than `request_timeout` fails the sink naming it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use common::{Streams, Write, Written};
use connector_testkit::NetworkSuite;
use connector_testkit::proxy::{FaultProxy, NetworkFault};

/// The ConnectionManager's response timeout (connection.rs): a stall shorter than it
/// is waited out.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exactly_once_sink_rides_through_network_faults() {
    let Some(url) = common::server().await else { return };
    let proxy = FaultProxy::for_endpoint(&url).await.unwrap();
    let via = proxy.endpoint_for(&url);
    let suite = NetworkSuite::new(&proxy, RESPONSE_TIMEOUT);
    let verdicts =
        suite.run_sink(|| async { Arc::new(Written::through(url.clone(), via.clone(), Write::Set)) }).await.unwrap();
    let stats = proxy.stats();
    assert!(stats.cut + stats.refused > 0, "the faults reached the connections: {stats:?}");
    assert_eq!(verdicts.len(), 4);
}

/// A cut every 0.1-0.3 s with up to 0.3 s of refusal for 20 s: a connection idle
/// during a retry backoff is mostly dead when used again, and the batch must go
/// again on the fresh one at once. Before, each such batch waited a backoff and the
/// sink fell behind: the job ended 8.6 and 9.8 s after the faults (here 1.0 s).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sink_keeps_up_under_a_cut_every_few_hundred_milliseconds() {
    let Some(url) = common::server().await else { return };
    let proxy = FaultProxy::for_endpoint(&url).await.unwrap();
    let via = proxy.endpoint_for(&url);
    let ms = Duration::from_millis;
    let suite = NetworkSuite::new(&proxy, RESPONSE_TIMEOUT)
        .faults(vec![NetworkFault::Cuts { every: ms(100)..ms(300), refuse: ms(0)..ms(300) }])
        .fault_time(Duration::from_secs(20))
        .finish_within(Duration::from_secs(6));
    suite.run_sink(|| async { Arc::new(Written::through(url.clone(), via.clone(), Write::Set)) }).await.unwrap();
    assert!(proxy.stats().cut > 10, "{:?}", proxy.stats());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_least_once_sink_rides_through_network_faults() {
    let Some(url) = common::server().await else { return };
    let proxy = FaultProxy::for_endpoint(&url).await.unwrap();
    let via = proxy.endpoint_for(&url);
    let suite = NetworkSuite::new(&proxy, RESPONSE_TIMEOUT);
    suite.run_sink(|| async { Arc::new(Written::through(url.clone(), via.clone(), Write::RPush)) }).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stall_past_request_timeout_fails_the_sink_naming_it() {
    let Some(url) = common::server().await else { return };
    let proxy = FaultProxy::for_endpoint(&url).await.unwrap();
    let mut target = Written::through(url.clone(), proxy.endpoint_for(&url), Write::Set);
    let timeout = Duration::from_secs(4);
    target.request_timeout = Some(timeout);
    let suite = NetworkSuite::new(&proxy, RESPONSE_TIMEOUT);
    let took = suite
        .sink_stall_past_timeout(Arc::new(target), timeout, "request_timeout", Duration::from_secs(3))
        .await
        .unwrap();
    eprintln!("failed {took:?} after the stall began");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exactly_once_source_rides_through_network_faults() {
    let Some(url) = common::server().await else { return };
    let proxy = FaultProxy::for_endpoint(&url).await.unwrap();
    let via = proxy.endpoint_for(&url);
    let suite = NetworkSuite::new(&proxy, RESPONSE_TIMEOUT);
    suite.run_source(|| async { Streams::through(url.clone(), via.clone(), "net", false) }).await.unwrap();
}

/// A cut can lose the reply of an `XREADGROUP >` that delivered entries: they sat in
/// the consumer's pending list, never emitted, until a restart (16 of 3,250 missing
/// here before the fetcher re-read its pending entries after a failed read).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumer_group_source_rides_through_network_faults() {
    let Some(url) = common::server().await else { return };
    let proxy = FaultProxy::for_endpoint(&url).await.unwrap();
    let via = proxy.endpoint_for(&url);
    let suite = NetworkSuite::new(&proxy, RESPONSE_TIMEOUT);
    suite.run_source(|| async { Streams::through(url.clone(), via.clone(), "net-group", true) }).await.unwrap();
}

/// A stall fails each read after the endpoint's response_timeout; the source fails
/// once its retry policy gives up, naming it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stall_past_response_timeout_and_retry_fails_the_source_naming_it() {
    use stream_core::retry::RetryPolicy;
    let Some(url) = common::server().await else { return };
    let proxy = FaultProxy::for_endpoint(&url).await.unwrap();
    let mut target = Arc::unwrap_or_clone(Streams::through(url.clone(), proxy.endpoint_for(&url), "net-stall", false));
    target.response_timeout = Some(Duration::from_secs(2));
    target.retry = Some(RetryPolicy::fixed(Duration::from_millis(200)).give_up_after(Duration::from_secs(3)));
    let suite = NetworkSuite::new(&proxy, RESPONSE_TIMEOUT);
    // The first read times out after 2 s; the retries then give up 3 s later, when
    // the read in flight times out (at most 2 s more).
    let timeout = Duration::from_secs(2 + 3 + 2);
    let took =
        suite.source_stall_past_timeout(Arc::new(target), timeout, "retry", Duration::from_secs(3)).await.unwrap();
    eprintln!("failed {took:?} after the stall began");
}

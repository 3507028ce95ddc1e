//! The testkit's network-fault suite on the sink, through a Pulsar-mode fault proxy in
//! front of the test broker: cuts with short and long refusal, latency and short
//! stalls lose nothing and need no restart (the client connects again; a message
//! whose receipt failed is sent again).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use common::{FromPulsar, ToPulsar};
use connector_testkit::NetworkSuite;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sink_rides_through_network_faults() {
    let Some((proxy, url)) = common::server().await else { return };
    let suite = NetworkSuite::new(&proxy, Duration::from_secs(30));
    suite
        .run_sink(|| async {
            Arc::new(ToPulsar { proxy: proxy.clone(), url: url.clone(), topic: common::topic("net") })
        })
        .await
        .unwrap();
    let stats = proxy.stats();
    assert!(stats.cut + stats.refused > 0, "the faults reached the connections: {stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_source_rides_through_network_faults() {
    let Some((proxy, url)) = common::server().await else { return };
    let direct = common::direct().await;
    let suite = NetworkSuite::new(&proxy, Duration::from_secs(30));
    suite
        .run_source(|| async {
            Arc::new(FromPulsar {
                proxy: proxy.clone(),
                url: url.clone(),
                direct: direct.clone(),
                topic: common::topic("net-src"),
                subscription: format!("sub-net-{}", fastrand::u32(..)),
            })
        })
        .await
        .unwrap();
    let stats = proxy.stats();
    assert!(stats.cut + stats.refused > 0, "the faults reached the connections: {stats:?}");
}

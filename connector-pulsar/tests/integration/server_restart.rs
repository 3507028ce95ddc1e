//! pulsar-lite restarted in the middle of a run, on a private broker of this test (its
//! RocksDB in its own directory), reached through a Pulsar proxy: the sink sends
//! again what had no receipt, the source subscribes again after its position.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use common::{FromPulsar, ToPulsar};
use connector_base::DeliveryGuarantee::{AtLeastOnce, ExactlyOnce};
use connector_testkit::proxy::FaultProxy;
use connector_testkit::{PrivateServer, SuiteConfig, TestServer, run_sink_suite, run_unbounded_source_suite, servers};

/// A private broker and a Pulsar proxy in front of it: `(broker, proxy, proxy URL)`.
async fn private() -> Option<(PrivateServer, FaultProxy, String)> {
    let shared = TestServer::discover(&servers::PULSAR).await.unwrap()?;
    let server = PrivateServer::start(&servers::PULSAR, &shared, &[]).await.unwrap();
    let address = server.endpoint().trim_start_matches("pulsar://").to_string();
    let upstream = tokio::net::lookup_host(address).await.unwrap().next().unwrap();
    let proxy = FaultProxy::start_pulsar(upstream).await.unwrap();
    let url = format!("pulsar://{}", proxy.addr());
    Some((server, proxy, url))
}

fn config(server: &PrivateServer) -> SuiteConfig {
    SuiteConfig {
        records: 3_000,
        records_per_second: 1_000.0,
        parallelism: 1,
        crashes: 1,
        checkpoint_interval: Duration::from_millis(200),
        restart_server: Some(server.restart_hook(Duration::from_millis(500))),
        ..SuiteConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sink_survives_a_broker_restart() {
    let Some((server, proxy, url)) = private().await else { return };
    let target = ToPulsar { proxy, url, topic: common::topic("restart") };
    let verdict = run_sink_suite(Arc::new(target), config(&server)).await.unwrap();
    verdict.check(AtLeastOnce).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_source_survives_a_broker_restart() {
    let Some((server, proxy, url)) = private().await else { return };
    let direct = server.endpoint().to_string();
    let subscription = format!("sub-restart-{}", fastrand::u32(..));
    let target = FromPulsar { proxy, url, direct, topic: common::topic("restart-src"), subscription };
    let verdict = run_unbounded_source_suite(Arc::new(target), config(&server)).await.unwrap();
    verdict.check(ExactlyOnce).unwrap();
}

//! Redis is restarted in the middle of a run, on a private redis-server with its own
//! port and data (a host process or a container, as the shared server; tests sharing
//! that one are not disturbed),
//! with the append-only file fsynced on every write (`--appendfsync always`): what the
//! server acknowledged survives the restart. The exactly-once sink (SET), the
//! at-least-once sink (RPUSH) and the exactly-once source keep their guarantee.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use connector_base::DeliveryGuarantee;
use connector_testkit::{PrivateServer, SuiteConfig, TestServer, run_sink_suite, run_source_suite, servers};

/// A redis-server of this test alone (a host process or a container, as the shared
/// one), or `None` when the shared server is not there either (skip).
async fn private_redis() -> Option<(PrivateServer, String)> {
    let shared = TestServer::discover(&servers::REDIS).await.unwrap()?;
    let aof = ["--appendonly", "yes", "--appendfsync", "always"].map(String::from);
    let server = PrivateServer::start(&servers::REDIS, &shared, &aof).await.unwrap();
    let url = server.endpoint().to_string();
    Some((server, url))
}

const DOWN: Duration = Duration::from_millis(300);

async fn sink_survives_a_server_restart(write: common::Write, guarantee: DeliveryGuarantee) {
    let Some((redis, url)) = private_redis().await else { return };
    let target = common::Written::at(url, write);
    let config = SuiteConfig {
        crashes: 1,
        records_per_second: 5_000.0,
        checkpoint_interval: Duration::from_millis(100),
        restart_server: Some(redis.restart_hook(DOWN)),
        ..SuiteConfig::default()
    };
    let verdict = run_sink_suite(target, config).await.unwrap();
    verdict.check(guarantee).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exactly_once_set_sink_survives_a_server_restart() {
    sink_survives_a_server_restart(common::Write::Set, DeliveryGuarantee::ExactlyOnce).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_least_once_rpush_sink_survives_a_server_restart() {
    sink_survives_a_server_restart(common::Write::RPush, DeliveryGuarantee::AtLeastOnce).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn source_survives_a_server_restart() {
    let Some((redis, url)) = private_redis().await else { return };
    let streams = common::Streams::at(url, "restart", false);
    // Small reads, so that reading lasts past the moment of the restart.
    let target = Arc::new(common::Streams { batch_size: 5, ..Arc::into_inner(streams).unwrap() });
    let config = SuiteConfig {
        crashes: 1,
        records: 10_000,
        restart_server: Some(redis.restart_hook(DOWN)),
        ..SuiteConfig::default()
    };
    let verdict = run_source_suite(target, config).await.unwrap();
    verdict.check(DeliveryGuarantee::ExactlyOnce).unwrap();
}

//! Prometheus restarted in the middle of a run, on a private server of this test
//! (its TSDB and WAL in its own directory): the sink waits it out, sends again what
//! was refused, and every sample is there once after.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use common::ToPrometheus;
use connector_base::DeliveryGuarantee::ExactlyOnce;
use connector_testkit::{PrivateServer, SuiteConfig, TestServer, run_sink_suite, servers};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sink_survives_a_server_restart() {
    let Some(shared) = TestServer::discover(&servers::PROMETHEUS).await.unwrap() else { return };
    let server = PrivateServer::start(&servers::PROMETHEUS, &shared, &[]).await.unwrap();
    let mut target = ToPrometheus::new("restart", 5).await.map(Arc::unwrap_or_clone).expect("the server");
    (target.url, target.via) = (server.endpoint().to_string(), server.endpoint().to_string());
    let config = SuiteConfig {
        records: 3_000,
        records_per_second: 1_000.0,
        parallelism: 1,
        crashes: 1,
        checkpoint_interval: Duration::from_millis(200),
        restart_server: Some(server.restart_hook(Duration::from_millis(500))),
        ..SuiteConfig::default()
    };
    let verdict = run_sink_suite(Arc::new(target), config).await.unwrap();
    verdict.check(ExactlyOnce).unwrap();
}

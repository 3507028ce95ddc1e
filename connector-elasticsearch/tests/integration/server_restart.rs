//! Elasticsearch is restarted in the middle of a run (noida-db keeps its data), on a
//! private server with its own port and data (a host process or a container, as the
//! shared one) so that tests sharing the common server are not disturbed: the sink
//! keeps its guarantee, at-least-once and exactly-once (deterministic ids), with the
//! server down for 2 s.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use connector_base::DeliveryGuarantee;
use connector_elasticsearch::Elasticsearch;
use connector_testkit::search::IndexTarget;
use connector_testkit::{PrivateServer, SuiteConfig, TestServer, run_sink_suite, servers};

async fn sink_survives_a_restart(guarantee: DeliveryGuarantee) {
    let Some(shared) = TestServer::discover(&servers::ELASTICSEARCH).await.unwrap() else { return };
    let server = PrivateServer::start(&servers::ELASTICSEARCH, &shared, &[]).await.unwrap();
    let target = IndexTarget::<Elasticsearch>::new(server.endpoint(), "restart", guarantee).await.unwrap();
    let config = SuiteConfig {
        crashes: 1,
        records_per_second: 5_000.0,
        checkpoint_interval: Duration::from_millis(100),
        restart_server: Some(server.restart_hook(Duration::from_secs(2))),
        ..SuiteConfig::default()
    };
    let verdict = run_sink_suite(Arc::new(target), config).await.unwrap();
    verdict.check(guarantee).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_least_once_survives_an_elasticsearch_restart() {
    sink_survives_a_restart(DeliveryGuarantee::AtLeastOnce).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exactly_once_survives_an_elasticsearch_restart() {
    sink_survives_a_restart(DeliveryGuarantee::ExactlyOnce).await;
}

//! RabbitMQ is restarted (cleanly) in the middle of a run, on a private node of this
//! test (its own name, ports and data directory, so that tests on the shared broker
//! are not disturbed): the sink (at-least-once) and the source (at-least-once and
//! exactly-once) keep their guarantee. Queues are durable and messages persistent,
//! so what the broker confirmed survives the restart.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::time::Duration;

use connector_base::DeliveryGuarantee;
use connector_testkit::{PrivateServer, SuiteConfig, TestServer, run_sink_suite, run_unbounded_source_suite, servers};

/// A node of this test alone (own name, ports and data, where the shared broker runs:
/// a host process or a container), or `None` when the shared broker is not there
/// either (skip).
async fn private_broker() -> Option<PrivateServer> {
    let shared = TestServer::discover(&servers::RABBITMQ).await.unwrap()?;
    Some(PrivateServer::start(&servers::RABBITMQ, &shared, &[]).await.unwrap())
}

fn config(broker: &PrivateServer) -> SuiteConfig {
    SuiteConfig {
        crashes: 1,
        records: 3_000,
        records_per_second: 1_000.0,
        restart_server: Some(broker.restart_hook(Duration::ZERO)),
        idle_stall: Duration::from_secs(20),
        ..SuiteConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sink_and_sources_survive_a_broker_restart() {
    let Some(broker) = private_broker().await else { return };
    let url = broker.endpoint().to_string();
    let out = common::OutQueue::at(url.clone(), "restart-sink").await;
    let verdict = run_sink_suite(out, config(&broker)).await.unwrap();
    verdict.check(DeliveryGuarantee::AtLeastOnce).unwrap();

    let input = common::InQueue::at(url.clone(), "restart-alo", DeliveryGuarantee::AtLeastOnce).await;
    let verdict = run_unbounded_source_suite(input, config(&broker)).await.unwrap();
    verdict.check(DeliveryGuarantee::AtLeastOnce).unwrap();

    let input = common::InQueue::at(url, "restart-eos", DeliveryGuarantee::ExactlyOnce).await;
    let verdict = run_unbounded_source_suite(input, SuiteConfig { parallelism: 1, ..config(&broker) }).await.unwrap();
    verdict.check(DeliveryGuarantee::ExactlyOnce).unwrap();
}

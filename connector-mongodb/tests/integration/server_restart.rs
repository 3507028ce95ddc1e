//! MongoDB is restarted in the middle of a run, on a private mongoeco of this test
//! with its SQLite file (what the server acknowledged survives the restart): the
//! exactly-once sink (inserts with the record's id as `_id`, and upserts by `_id`)
//! and the exactly-once source keep their guarantee.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use common::{FromCollection, ToCollection, Writes};
use connector_base::DeliveryGuarantee;
use connector_mongodb::SplitStrategy;
use connector_testkit::{PrivateServer, SuiteConfig, TestServer, run_sink_suite, run_source_suite, servers};

async fn sink_survives_a_server_restart(writes: Writes) {
    let Some(shared) = TestServer::discover(&servers::MONGODB).await.unwrap() else { return };
    let durable = [servers::MONGODB_DURABLE.to_string()];
    let server = PrivateServer::start(&servers::MONGODB, &shared, &durable).await.unwrap();
    let mut target = ToCollection::new("restart", DeliveryGuarantee::ExactlyOnce, writes)
        .await
        .map(Arc::unwrap_or_clone)
        .expect("the server");
    (target.uri, target.via) = (server.endpoint().to_string(), server.endpoint().to_string());
    let config = SuiteConfig {
        records: 600,
        records_per_second: 200.0,
        crashes: 1,
        checkpoint_interval: Duration::from_millis(200),
        restart_server: Some(server.restart_hook(Duration::from_millis(500))),
        ..SuiteConfig::default()
    };
    let verdict = run_sink_suite(Arc::new(target), config).await.unwrap();
    verdict.check(DeliveryGuarantee::ExactlyOnce).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exactly_once_inserts_survive_a_server_restart() {
    sink_survives_a_server_restart(Writes::Inserts).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exactly_once_upserts_survive_a_server_restart() {
    sink_survives_a_server_restart(Writes::Upserts).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_source_survives_a_server_restart() {
    let Some(shared) = TestServer::discover(&servers::MONGODB).await.unwrap() else { return };
    let durable = [servers::MONGODB_DURABLE.to_string()];
    let server = PrivateServer::start(&servers::MONGODB, &shared, &durable).await.unwrap();
    let strategy = SplitStrategy::Sample { splits: Some(4), samples_per_split: 5 };
    let mut target =
        FromCollection::new("restart_source", strategy).await.map(Arc::unwrap_or_clone).expect("the server");
    // Small pages, so that reading lasts past the moment of the restart.
    (target.uri, target.via, target.page_size) = (server.endpoint().to_string(), server.endpoint().to_string(), 5);
    let config = SuiteConfig {
        records: 600,
        crashes: 1,
        checkpoint_interval: Duration::from_millis(100),
        restart_server: Some(server.restart_hook(Duration::from_millis(500))),
        ..SuiteConfig::default()
    };
    let verdict = run_source_suite(Arc::new(target), config).await.unwrap();
    verdict.check(DeliveryGuarantee::ExactlyOnce).unwrap();
}

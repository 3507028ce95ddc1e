//! OpenSearchSink against osmem-server: the testkit sink suite
//! with crashes at random and at every protocol point, for at-least-once (ids the
//! server makes up, so a replay shows as a duplicate) and for exactly-once
//! (deterministic ids); every document is read back with a scroll and compared with
//! what was sent.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use connector_base::DeliveryGuarantee;
use connector_opensearch::OpenSearch;
use connector_search::testing::IndexTarget;
use connector_testkit::{SuiteConfig, TestServer, run_sink_suite, servers};

async fn target(test: &str, guarantee: DeliveryGuarantee) -> Option<Arc<IndexTarget<OpenSearch>>> {
    let server = TestServer::discover(&servers::OPENSEARCH).await.unwrap()?;
    Some(Arc::new(IndexTarget::new(&server.endpoint, test, guarantee).await.unwrap()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_least_once_across_random_crashes() {
    let Some(target) = target("alo", DeliveryGuarantee::AtLeastOnce).await else { return };
    let verdict = run_sink_suite(target, SuiteConfig::default()).await.unwrap();
    assert!(verdict.crashes >= 1, "{verdict}");
    verdict.check(DeliveryGuarantee::AtLeastOnce).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deterministic_ids_are_exactly_once_with_a_crash_at_every_protocol_point() {
    let Some(target) = target("eo-points", DeliveryGuarantee::ExactlyOnce).await else { return };
    let verdict = run_sink_suite(target, SuiteConfig::writer_crash_at_every_point()).await.unwrap();
    assert_eq!(verdict.crashes, 2, "{verdict}");
    verdict.check(DeliveryGuarantee::ExactlyOnce).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deterministic_ids_are_exactly_once_across_random_crashes() {
    let Some(target) = target("eo-random", DeliveryGuarantee::ExactlyOnce).await else { return };
    let verdict = run_sink_suite(target, SuiteConfig::default()).await.unwrap();
    assert!(verdict.crashes >= 1, "{verdict}");
    verdict.check(DeliveryGuarantee::ExactlyOnce).unwrap();
}

//! The OpenSearch sink against osmem-server: the testkit sink suite (run by connector-search's
//! testing helpers on a fresh index) with crashes at random and at every protocol
//! point, for at-least-once (ids the server makes up, so a replay shows as a
//! duplicate) and for exactly-once (deterministic ids); every document is read back
//! with a scroll and compared with what was sent.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use connector_base::DeliveryGuarantee::{AtLeastOnce, ExactlyOnce};
use connector_opensearch::OpenSearch;
use connector_testkit::search::sink_suite;
use connector_testkit::{SuiteConfig, servers::OPENSEARCH};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_least_once_across_random_crashes() {
    let Some(verdict) = sink_suite::<OpenSearch>(&OPENSEARCH, "alo", AtLeastOnce, SuiteConfig::default()).await else {
        return;
    };
    assert!(verdict.crashes >= 1, "{verdict}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_least_once_with_a_crash_at_every_protocol_point() {
    let config = SuiteConfig::writer_crash_at_every_point();
    let Some(verdict) = sink_suite::<OpenSearch>(&OPENSEARCH, "alo-points", AtLeastOnce, config).await else { return };
    assert_eq!(verdict.crashes, 2, "{verdict}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deterministic_ids_are_exactly_once_with_a_crash_at_every_protocol_point() {
    let config = SuiteConfig::writer_crash_at_every_point();
    let Some(verdict) = sink_suite::<OpenSearch>(&OPENSEARCH, "eo-points", ExactlyOnce, config).await else { return };
    assert_eq!(verdict.crashes, 2, "{verdict}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deterministic_ids_are_exactly_once_across_random_crashes() {
    let Some(verdict) = sink_suite::<OpenSearch>(&OPENSEARCH, "eo-random", ExactlyOnce, SuiteConfig::default()).await
    else {
        return;
    };
    assert!(verdict.crashes >= 1, "{verdict}");
}

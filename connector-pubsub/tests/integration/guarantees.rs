//! PubSubSource and PubSubSink against the official Pub/Sub emulator: the unbounded
//! source suite at-least-once (random crashes, and a crash at every protocol point,
//! including after a checkpoint completed and before the acks) and exactly-once on an
//! exactly-once subscription (the same crashes: no loss, no duplicate), and the sink
//! suite (at-least-once), read back through a subscription made before the run.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use connector_base::DeliveryGuarantee::{AtLeastOnce, ExactlyOnce};
use connector_testkit::{SuiteConfig, run_sink_suite, run_unbounded_source_suite};

fn config() -> SuiteConfig {
    SuiteConfig { records: 3_000, ..SuiteConfig::default() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_least_once_source_loses_nothing_across_random_crashes() {
    let Some(target) = common::InSubscription::new("alo", AtLeastOnce).await else { return };
    let verdict = run_unbounded_source_suite(target, config()).await.unwrap();
    assert!(verdict.crashes >= 1, "{verdict}");
    verdict.check(AtLeastOnce).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_least_once_source_with_a_crash_at_every_protocol_point() {
    let Some(target) = common::InSubscription::new("alo-points", AtLeastOnce).await else { return };
    let points = SuiteConfig::source_crash_at_every_point();
    let config = SuiteConfig { crashes: points.crashes, faults: points.faults, ..config() };
    let verdict = run_unbounded_source_suite(target, config).await.unwrap();
    assert_eq!(verdict.crashes, 4, "{verdict}");
    verdict.check(AtLeastOnce).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exactly_once_source_across_random_crashes() {
    let Some(target) = common::InSubscription::new("eos", ExactlyOnce).await else { return };
    let verdict = run_unbounded_source_suite(target, SuiteConfig { parallelism: 1, ..config() }).await.unwrap();
    assert!(verdict.crashes >= 1, "{verdict}");
    verdict.check(ExactlyOnce).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exactly_once_source_with_a_crash_at_every_protocol_point() {
    let Some(target) = common::InSubscription::new("eos-points", ExactlyOnce).await else { return };
    let points = SuiteConfig::source_crash_at_every_point();
    let config = SuiteConfig { parallelism: 1, crashes: points.crashes, faults: points.faults, ..config() };
    let verdict = run_unbounded_source_suite(target, config).await.unwrap();
    assert_eq!(verdict.crashes, 4, "{verdict}");
    verdict.check(ExactlyOnce).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sink_is_at_least_once_across_crashes() {
    let Some(target) = common::ToTopic::new("sink").await else { return };
    let verdict = run_sink_suite(target, config()).await.unwrap();
    assert!(verdict.crashes >= 1, "{verdict}");
    verdict.check(AtLeastOnce).unwrap();
}

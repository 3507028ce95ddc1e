//! KinesisStreamsSource and KinesisStreamsSink against kinesis-local: the testkit
//! suites with crashes at random and at every protocol point; what was read is
//! compared with what was put in, and what was written is read back from every shard.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use connector_base::DeliveryGuarantee;
use connector_testkit::{SuiteConfig, run_sink_suite, run_unbounded_source_suite};

/// kinesis-local slows down past a few thousand records per shard.
fn small(config: SuiteConfig) -> SuiteConfig {
    SuiteConfig { records: 4_000, records_per_second: 8_000.0, ..config }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn source_is_exactly_once_across_random_crashes() {
    let Some(target) = common::FromStream::new(4).await else { return };
    let verdict = run_unbounded_source_suite(target, small(SuiteConfig::default())).await.unwrap();
    assert!(verdict.crashes >= 1, "{verdict}");
    verdict.check(DeliveryGuarantee::ExactlyOnce).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn source_is_exactly_once_with_a_crash_at_every_protocol_point() {
    let Some(target) = common::FromStream::new(4).await else { return };
    let verdict = run_unbounded_source_suite(target, small(SuiteConfig::source_crash_at_every_point())).await.unwrap();
    assert_eq!(verdict.crashes, SuiteConfig::source_crash_at_every_point().crashes, "{verdict}");
    verdict.check(DeliveryGuarantee::ExactlyOnce).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fan_out_source_is_exactly_once_across_random_crashes() {
    let Some(target) = common::FromStream::fan_out(4).await else { return };
    let verdict = run_unbounded_source_suite(target, small(SuiteConfig::default())).await.unwrap();
    assert!(verdict.crashes >= 1, "{verdict}");
    verdict.check(DeliveryGuarantee::ExactlyOnce).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fan_out_source_is_exactly_once_with_a_crash_at_every_protocol_point() {
    let Some(target) = common::FromStream::fan_out(4).await else { return };
    let verdict = run_unbounded_source_suite(target, small(SuiteConfig::source_crash_at_every_point())).await.unwrap();
    assert_eq!(verdict.crashes, SuiteConfig::source_crash_at_every_point().crashes, "{verdict}");
    verdict.check(DeliveryGuarantee::ExactlyOnce).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sink_is_at_least_once_across_random_crashes() {
    let Some(target) = common::InStream::new(4).await else { return };
    let verdict = run_sink_suite(target, small(SuiteConfig::default())).await.unwrap();
    assert!(verdict.crashes >= 1, "{verdict}");
    verdict.check(DeliveryGuarantee::AtLeastOnce).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sink_is_at_least_once_with_a_crash_at_every_protocol_point() {
    let Some(target) = common::InStream::new(4).await else { return };
    let verdict = run_sink_suite(target, small(SuiteConfig::writer_crash_at_every_point())).await.unwrap();
    assert_eq!(verdict.crashes, 2, "{verdict}");
    verdict.check(DeliveryGuarantee::AtLeastOnce).unwrap();
}

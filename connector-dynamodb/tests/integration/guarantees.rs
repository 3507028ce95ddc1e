//! DynamoDbSink against AWS DynamoDB Local: the testkit sink suite with crashes at
//! random and at every protocol point, for at-least-once and for exactly-once (keyed
//! puts); the table is scanned and compared with what was sent.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use connector_base::DeliveryGuarantee;
use connector_testkit::{SuiteConfig, run_sink_suite};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_least_once_across_random_crashes() {
    let Some(target) = common::InTable::new(DeliveryGuarantee::AtLeastOnce).await else { return };
    let verdict = run_sink_suite(target, SuiteConfig::default()).await.unwrap();
    assert!(verdict.crashes >= 1, "{verdict}");
    verdict.check(DeliveryGuarantee::AtLeastOnce).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyed_puts_are_exactly_once_with_a_crash_at_every_protocol_point() {
    let Some(target) = common::InTable::new(DeliveryGuarantee::ExactlyOnce).await else { return };
    let verdict = run_sink_suite(target, SuiteConfig::writer_crash_at_every_point()).await.unwrap();
    assert_eq!(verdict.crashes, 2, "{verdict}");
    verdict.check(DeliveryGuarantee::ExactlyOnce).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyed_puts_are_exactly_once_across_random_crashes() {
    let Some(target) = common::InTable::new(DeliveryGuarantee::ExactlyOnce).await else { return };
    let verdict = run_sink_suite(target, SuiteConfig::default()).await.unwrap();
    assert!(verdict.crashes >= 1, "{verdict}");
    verdict.check(DeliveryGuarantee::ExactlyOnce).unwrap();
}

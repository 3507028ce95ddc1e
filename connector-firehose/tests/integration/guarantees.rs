//! FirehoseSink against moto's Firehose (S3 destination): the testkit sink suite with
//! crashes at random and at each writer protocol point; what the delivery stream wrote
//! to moto's S3 is read back and compared with what was sent.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use connector_base::DeliveryGuarantee;
use connector_testkit::{SuiteConfig, run_sink_suite};

async fn target() -> Option<std::sync::Arc<common::ToBucket>> {
    let (sdk, stream, store) = common::stream("suite").await?;
    Some(std::sync::Arc::new(common::ToBucket { sdk, stream, store, via: None, configure: |b| b }))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_least_once_across_random_crashes() {
    let Some(target) = target().await else { return };
    let verdict = run_sink_suite(target, SuiteConfig::default()).await.unwrap();
    assert!(verdict.crashes >= 1, "{verdict}");
    verdict.check(DeliveryGuarantee::AtLeastOnce).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_least_once_with_a_crash_at_every_protocol_point() {
    let Some(target) = target().await else { return };
    let verdict = run_sink_suite(target, SuiteConfig::writer_crash_at_every_point()).await.unwrap();
    assert_eq!(verdict.crashes, 2, "{verdict}");
    verdict.check(DeliveryGuarantee::AtLeastOnce).unwrap();
}

//! The testkit's sink suite against pulsar-lite (through the checksum-adding proxy):
//! crashes at random and at every writer protocol point, the topic read back.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::sync::Arc;

use common::ToPulsar;
use connector_base::DeliveryGuarantee::AtLeastOnce;
use connector_testkit::{SuiteConfig, run_sink_suite};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sink_is_at_least_once_across_crashes() {
    let Some(target) = ToPulsar::new("sink").await else { return };
    let config = SuiteConfig { records: 3_000, parallelism: 2, crashes: 3, ..SuiteConfig::default() };
    let verdict = run_sink_suite(target, config).await.unwrap();
    verdict.check(AtLeastOnce).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sink_is_at_least_once_with_a_crash_at_every_writer_point() {
    let Some(target) = ToPulsar::new("points").await else { return };
    let config = SuiteConfig::sink_crash_at_every_point();
    let verdict = run_sink_suite(Arc::clone(&target), config).await.unwrap();
    verdict.check(AtLeastOnce).unwrap();
}

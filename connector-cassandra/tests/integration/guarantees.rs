//! CassandraSink against the CQL test server (kassandra, or a real node given by
//! `CASSANDRA_CONTACT_POINTS`): the sink suite with random crashes at-least-once and
//! exactly-once (upserts by primary key: a replay writes the same row again), and
//! with a crash at every writer protocol point; the table read back and compared
//! (lost, duplicated, wrong values).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use connector_base::DeliveryGuarantee::{AtLeastOnce, ExactlyOnce};
use connector_testkit::{SuiteConfig, run_sink_suite};

fn config() -> SuiteConfig {
    SuiteConfig { records: 3_000, ..SuiteConfig::default() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sink_is_at_least_once_across_crashes() {
    let Some(target) = common::ToTable::new("alo", AtLeastOnce).await else { return };
    let verdict = run_sink_suite(target, config()).await.unwrap();
    assert!(verdict.crashes >= 1, "{verdict}");
    verdict.check(AtLeastOnce).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upserts_are_exactly_once_across_crashes() {
    let Some(target) = common::ToTable::new("eos", ExactlyOnce).await else { return };
    let verdict = run_sink_suite(target, config()).await.unwrap();
    assert!(verdict.crashes >= 1, "{verdict}");
    verdict.check(ExactlyOnce).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upserts_are_exactly_once_with_a_crash_at_every_writer_protocol_point() {
    let Some(target) = common::ToTable::new("eos_points", ExactlyOnce).await else { return };
    // Many writes in flight: a checkpoint that did not wait for them would lose them.
    let mut target = std::sync::Arc::unwrap_or_clone(target);
    target.configure = |b| b.max_concurrent_requests(1_000);
    let target = std::sync::Arc::new(target);
    let points = SuiteConfig::writer_crash_at_every_point();
    let config = SuiteConfig { crashes: points.crashes, faults: points.faults, ..config() };
    let verdict = run_sink_suite(target, config).await.unwrap();
    assert_eq!(verdict.crashes, 2, "{verdict}");
    verdict.check(ExactlyOnce).unwrap();
}

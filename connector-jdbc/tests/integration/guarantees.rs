//! JdbcSink against PostgreSQL: plain inserts into a table without a key, so that a
//! replayed row shows as a duplicate. At-least-once with random crashes (nothing
//! lost), and with upserts by a primary key (nothing lost, nothing doubled);
//! exactly-once through prepared transactions with random crashes and with a
//! crash at every protocol point, parallelism 2 (nothing lost, nothing doubled, no
//! prepared transaction of the sink left).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::ToTable;
use connector_base::DeliveryGuarantee::{AtLeastOnce, ExactlyOnce};
use connector_testkit::{SuiteConfig, run_sink_suite};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_least_once_loses_nothing_across_crashes() {
    let Some(target) = ToTable::new("alo", AtLeastOnce).await else { return };
    let verdict = run_sink_suite(target, SuiteConfig::default()).await.unwrap();
    assert!(verdict.crashes >= 1, "{verdict}");
    verdict.check(AtLeastOnce).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_least_once_upserts_have_an_exactly_once_effect_across_crashes() {
    let Some(target) = ToTable::upserting("upsert", AtLeastOnce).await else { return };
    let verdict = run_sink_suite(target, SuiteConfig::default()).await.unwrap();
    assert!(verdict.crashes >= 1, "{verdict}");
    verdict.check(ExactlyOnce).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_phase_commit_is_exactly_once_across_random_crashes() {
    let Some(target) = ToTable::new("eos", ExactlyOnce).await else { return };
    let verdict = run_sink_suite(target.clone(), SuiteConfig::default()).await.unwrap();
    assert!(verdict.crashes >= 1, "{verdict}");
    verdict.check(ExactlyOnce).unwrap();
    assert_eq!(target.prepared_left().await, Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_phase_commit_is_exactly_once_with_a_crash_at_every_protocol_point() {
    let Some(target) = ToTable::new("eos_points", ExactlyOnce).await else { return };
    let verdict = run_sink_suite(target.clone(), SuiteConfig::sink_crash_at_every_point()).await.unwrap();
    assert_eq!(verdict.crashes, 4, "{verdict}");
    verdict.check(ExactlyOnce).unwrap();
    assert_eq!(target.prepared_left().await, Vec::<String>::new());
}

//! MongoSink against the MongoDB test server (mongoeco, or a real server given by
//! `MONGODB_URI`): the sink suite with random crashes, and with a crash at every
//! writer protocol point, at-least-once and exactly-once (upserts by `_id`, and
//! inserts with the record's id as `_id`: a replayed insert's duplicate `_id` counts
//! as written); the collection read back and compared (lost, duplicated, wrong values).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::{ToCollection, Writes};
use connector_base::DeliveryGuarantee::{AtLeastOnce, ExactlyOnce};
use connector_testkit::{SuiteConfig, run_sink_suite};
use stream_core::fault::{Fault, FaultPoint};

fn config() -> SuiteConfig {
    // mongoeco writes a few hundred documents a second.
    SuiteConfig { records: 500, records_per_second: 1_000.0, ..SuiteConfig::default() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sink_is_at_least_once_across_crashes() {
    let Some(target) = ToCollection::new("alo", AtLeastOnce, Writes::Upserts).await else { return };
    let verdict = run_sink_suite(target, config()).await.unwrap();
    assert!(verdict.crashes >= 1, "{verdict}");
    verdict.check(AtLeastOnce).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upserts_by_id_are_exactly_once_across_crashes() {
    let Some(target) = ToCollection::new("eos_upserts", ExactlyOnce, Writes::Upserts).await else { return };
    let verdict = run_sink_suite(target, config()).await.unwrap();
    assert!(verdict.crashes >= 1, "{verdict}");
    verdict.check(ExactlyOnce).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inserts_with_ids_from_the_record_are_exactly_once_across_crashes() {
    let Some(target) = ToCollection::new("eos_inserts", ExactlyOnce, Writes::Inserts).await else { return };
    let verdict = run_sink_suite(target, config()).await.unwrap();
    assert!(verdict.crashes >= 1, "{verdict}");
    verdict.check(ExactlyOnce).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exactly_once_with_a_crash_at_every_writer_protocol_point() {
    for writes in [Writes::Upserts, Writes::Inserts] {
        let Some(target) = ToCollection::new("eos_points", ExactlyOnce, writes).await else { return };
        let mut points = SuiteConfig::writer_crash_at_every_point();
        // The standard first crash comes after 800 records: this suite sends 500.
        if let Some(faults) = points.faults.as_mut() {
            faults[0] = Fault::new("records", FaultPoint::AfterRecords(200));
        }
        let config = SuiteConfig { crashes: points.crashes, faults: points.faults, ..config() };
        let verdict = run_sink_suite(target, config).await.unwrap();
        assert_eq!(verdict.crashes, 2, "{writes:?}: {verdict}");
        verdict.check(ExactlyOnce).unwrap();
    }
}

//! The Hybrid source: exactly-once across crashes (also around the switch), and every
//! record of the first source before any of the second.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use connector_base::{DataGenSource, DeliveryGuarantee, HybridSource};
use connector_testkit::{SourceTarget, SuiteConfig, TestkitError, run_source_suite};
use stream_core::fault::{Fault, FaultInjector, FaultPoint};
use stream_core::prelude::*;

struct HybridTarget(Mutex<Vec<u64>>);

impl SourceTarget for HybridTarget {
    type Source = HybridSource<CollectionSource<u64>, CollectionSource<u64>>;
    fn guarantee(&self) -> DeliveryGuarantee {
        DeliveryGuarantee::ExactlyOnce
    }
    async fn prepare(&self, ids: &[u64]) -> Result<(), TestkitError> {
        self.0.lock().unwrap().extend_from_slice(ids);
        Ok(())
    }
    fn source(&self, _bounded: bool) -> Self::Source {
        let ids = self.0.lock().unwrap().clone();
        let (history, live) = ids.split_at(ids.len() / 2);
        let part = |v: &[u64]| CollectionSource::new(v.to_vec()).records_per_second(15_000.0).unwrap();
        HybridSource::new(part(history), part(live)).unwrap()
    }
    fn id_of(&self, record: &u64) -> u64 {
        *record
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hybrid_source_is_exactly_once_across_crashes() {
    let target = Arc::new(HybridTarget(Mutex::new(Vec::new())));
    let verdict =
        run_source_suite(target, SuiteConfig { records: 3_000, crashes: 3, ..SuiteConfig::default() }).await.unwrap();
    assert!(verdict.crashes >= 1, "{verdict}");
    verdict.check(DeliveryGuarantee::ExactlyOnce).unwrap();
}

async fn run_ordered(faults: FaultInjector) -> Vec<u64> {
    let env = StreamEnvironment::builder()
        .checkpointing(CheckpointConfig::builder().interval(Duration::from_millis(20)).build().unwrap())
        .restart_strategy(RestartStrategy::fixed_delay(3, Duration::ZERO))
        .batch_size(50)
        .fault_injector(faults)
        .build()
        .unwrap();
    let history = CollectionSource::sequence(0..2_000).records_per_second(20_000.0).unwrap();
    let live = DataGenSource::new(|i| 2_000 + i).rows(2_000).records_per_second(20_000.0).unwrap();
    let sink = CollectSink::new();
    env.from_source(HybridSource::new(history, live).unwrap(), "hybrid")
        .sink_to(sink.clone(), "sink")
        .execute("hybrid")
        .await
        .unwrap();
    sink.committed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_record_of_the_first_source_comes_before_the_second_even_with_a_crash_after_the_switch() {
    let out = run_ordered(FaultInjector::new()).await;
    assert_eq!(out, (0..4_000).collect::<Vec<u64>>());

    let faults = FaultInjector::new();
    faults.plant(Fault::new("hybrid", FaultPoint::AfterRecords(2_600)));
    let out = run_ordered(faults.clone()).await;
    assert_eq!(faults.fired().len(), 1);
    assert_eq!(out, (0..4_000).collect::<Vec<u64>>(), "in order, once each, across a crash after the switch");
}

#[test]
fn an_unbounded_first_source_is_rejected() {
    let err = HybridSource::new(DataGenSource::new(|i| i), CollectionSource::sequence(0..1)).err().unwrap();
    assert!(err.to_string().contains("must end"), "{err}");
}

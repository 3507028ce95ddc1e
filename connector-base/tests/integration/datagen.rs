//! DataGen is deterministic and exactly-once across crashes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use connector_base::DataGenSource;
use stream_core::fault::{Fault, FaultInjector, FaultPoint};
use stream_core::prelude::*;

async fn run(faults: FaultInjector) -> Vec<String> {
    let env = StreamEnvironment::builder()
        .checkpointing(CheckpointConfig::builder().interval(Duration::from_millis(20)).build().unwrap())
        .restart_strategy(RestartStrategy::fixed_delay(3, Duration::ZERO))
        .parallelism(2)
        .batch_size(50)
        .fault_injector(faults)
        .build()
        .unwrap();
    let sink = CollectSink::new();
    let source = DataGenSource::new(|i| format!("event-{i}")).rows(3_000).records_per_second(20_000.0).unwrap();
    env.from_source(source, "datagen").sink_to(sink.clone(), "sink").execute("datagen").await.unwrap();
    let mut out = sink.committed();
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn datagen_is_deterministic_and_exactly_once_across_crashes() {
    let mut expected: Vec<String> = (0..3_000).map(|i| format!("event-{i}")).collect();
    expected.sort();
    assert_eq!(run(FaultInjector::new()).await, expected);
    let faults = FaultInjector::new();
    faults.plant(Fault::new("datagen", FaultPoint::AfterRecords(600)).subtask(0));
    faults.plant(Fault::new("sink", FaultPoint::AfterCheckpointBeforeCommit).subtask(1));
    assert_eq!(run(faults.clone()).await, expected, "no loss and no duplicate after crashes");
    assert_eq!(faults.fired().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn datagen_respects_its_rate() {
    let env = StreamEnvironment::builder().parallelism(2).build().unwrap();
    let started = Instant::now();
    let source = DataGenSource::new(|i| i).rows(2_000).records_per_second(4_000.0).unwrap();
    env.from_source(source, "datagen").sink_to(DiscardingSink::new(), "sink").execute("rate").await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(450), "2 000 records at 4 000/s take 0.5 s");
    assert!(DataGenSource::new(|i| i).records_per_second(0.0).is_err());
}

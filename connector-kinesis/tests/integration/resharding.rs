//! Resharding: a split before the job starts (children hold records newer than their
//! parent's backlog) and a merge while it runs, with crashes. Every record arrives
//! once, and the records of each partition key arrive in the order they were put:
//! a child shard is read only after its parents were read to their end.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use connector_base::DeliveryGuarantee;
use connector_kinesis::aws_config::SdkConfig;
use connector_kinesis::{KinesisStreamsSource, StartingPosition};
use connector_testkit::{SuiteConfig, Verdict};
use stream_core::fault::{Fault, FaultInjector, FaultPoint};
use stream_core::prelude::*;

/// Ids `from..to` with keys `k<id % 16>`.
async fn put(sdk: &SdkConfig, stream: &str, ids: std::ops::Range<u64>) {
    let records: Vec<(String, String)> = ids.map(|id| (format!("k{}", id % 16), format!("record-{id}"))).collect();
    common::put(sdk, stream, &records).await;
}

async fn wait_for(collect: &CollectSink<(String, u64)>, distinct: usize, limit: Duration) {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        let seen: HashSet<u64> = collect.committed().into_iter().map(|(_, id)| id).collect();
        if seen.len() >= distinct {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_and_merge_keep_every_record_once_and_each_key_in_order_across_crashes() {
    resharding_run(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_enhanced_fan_out_too() {
    resharding_run(Some("reshard-consumer")).await;
}

/// The run, reading by polling or with enhanced fan-out as `consumer`.
async fn resharding_run(consumer: Option<&str>) {
    let Some(sdk) = common::server().await else { return };
    let stream = common::stream(&sdk, "reshard", 2).await;
    put(&sdk, &stream, 0..800).await;
    let (_, upper) = common::split(&sdk, &stream, "shardId-000000000000").await;
    put(&sdk, &stream, 800..1600).await;

    let faults = FaultInjector::new();
    let planned = SuiteConfig::source_crash_at_every_point().faults.unwrap();
    for fault in &planned {
        faults.plant(fault.clone());
    }
    // One reader: the collected order is the order of reading, and a child read next
    // to its parent's backlog would show up as keys out of order. Small reads make
    // the parent's backlog last.
    let source = KinesisStreamsSource::builder(&sdk, &stream)
        .starting_position(StartingPosition::TrimHorizon)
        .shard_discovery_interval(Duration::from_millis(200))
        .idle_poll_interval(Duration::from_millis(20))
        .get_records_max(25);
    let source = match consumer {
        Some(name) => source.enhanced_fan_out(name).build().unwrap(),
        None => source.build().unwrap(),
    };
    let collect = CollectSink::new();
    let job = StreamEnvironment::builder()
        .checkpointing(CheckpointConfig::builder().interval(Duration::from_millis(20)).build().unwrap())
        .restart_strategy(RestartStrategy::fixed_delay(10, Duration::from_millis(10)))
        .parallelism(1)
        .fault_injector(faults.clone())
        .build()
        .unwrap()
        .from_source(source, "source")
        .map(|r| (r.partition_key.clone(), common::id_of(&r)))
        .sink_to(collect.clone(), "collect");
    let handle = job.start("resharding");

    wait_for(&collect, 1200, Duration::from_secs(60)).await;
    // While the job runs: merge the upper child with its neighbour, then more records.
    common::merge(&sdk, &stream, &upper, "shardId-000000000001").await;
    // Crash again while the merged shard's parents are being finished, and once more
    // after it is read.
    faults.plant(Fault::new("source", FaultPoint::DuringSnapshot));
    put(&sdk, &stream, 1600..2000).await;
    wait_for(&collect, 2000, Duration::from_secs(60)).await;
    faults.plant(Fault::new("source", FaultPoint::DuringSnapshot));
    put(&sdk, &stream, 2000..2400).await;
    wait_for(&collect, 2400, Duration::from_secs(60)).await;
    handle.cancel_and_join().await.unwrap();

    let collected = collect.committed();
    let ids: Vec<u64> = collected.iter().map(|(_, id)| *id).collect();
    let sent: Vec<u64> = (0..2400).collect();
    let verdict = Verdict::compare(&sent, &ids, faults.fired().len());
    eprintln!("resharding (fan-out consumer {consumer:?}): {verdict}");
    assert_eq!(verdict.crashes, planned.len() + 2, "{verdict}");
    verdict.check(DeliveryGuarantee::ExactlyOnce).unwrap();
    let per_key = common::per_key(&collected);
    let out_of_order: Vec<(&String, usize)> = per_key
        .iter()
        .map(|(key, ids)| (key, ids.windows(2).filter(|w| w[0] > w[1]).count()))
        .filter(|(_, n)| *n > 0)
        .collect();
    assert!(out_of_order.is_empty(), "records of these keys arrived out of order: {out_of_order:?}");
}

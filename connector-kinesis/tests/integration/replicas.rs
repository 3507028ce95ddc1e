//! Replicas: two processes of one job (two jobs in this test process, replica 0 and
//! replica 1 of 2) share a stream's shards by lineage. A split's children are read
//! where their parent was; a shard merged from parents of both replicas is read only
//! after the other replica posted its parent on the finished-shards board; every
//! record is read once by one replica, with crashes on both.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::time::{Duration, Instant};

use connector_base::DeliveryGuarantee;
use connector_kinesis::aws_config::SdkConfig;
use connector_kinesis::{KinesisStreamsSource, StartingPosition};
use connector_testkit::proxy::FaultProxy;
use connector_testkit::{SuiteConfig, Verdict};
use stream_core::Replica;
use stream_core::fault::FaultInjector;
use stream_core::prelude::*;
use stream_core::state::FinishedSplitsBoard;

/// What a replica read: shard, partition key, record id, and when it was emitted
/// (µs since the test began).
type Read = (String, String, u64, u64);

fn shard(n: u32) -> String {
    format!("shardId-{n:012}")
}

/// Ids `ids` with keys `k<id % 64>`.
async fn put(sdk: &SdkConfig, stream: &str, ids: std::ops::Range<u64>) {
    let records: Vec<(String, String)> = ids.map(|id| (format!("k{}", id % 64), format!("record-{id}"))).collect();
    common::put(sdk, stream, &records).await;
}

fn source(sdk: &SdkConfig, stream: &str, board: Option<&FinishedSplitsBoard>) -> KinesisStreamsSource {
    let builder = KinesisStreamsSource::builder(sdk, stream)
        .starting_position(StartingPosition::TrimHorizon)
        .shard_discovery_interval(Duration::from_millis(200))
        .idle_poll_interval(Duration::from_millis(20))
        .get_records_max(10);
    match board {
        Some(board) => builder.finished_shards_board(board.clone()),
        None => builder,
    }
    .build()
    .unwrap()
}

/// Replica `replica` reading through `sdk`, crashed at every protocol point.
fn start(
    replica: Replica,
    source: KinesisStreamsSource,
    began: Instant,
) -> (JobHandle, CollectSink<Read>, FaultInjector) {
    let faults = FaultInjector::new();
    for fault in SuiteConfig::source_crash_at_every_point().faults.unwrap() {
        faults.plant(fault);
    }
    let collect = CollectSink::new();
    let job = StreamEnvironment::builder()
        .replica(replica)
        .parallelism(2)
        .checkpointing(CheckpointConfig::builder().interval(Duration::from_millis(100)).build().unwrap())
        .restart_strategy(RestartStrategy::fixed_delay(10, Duration::from_millis(10)))
        .fault_injector(faults.clone())
        .build()
        .unwrap()
        .from_source(source, "source")
        .map(move |r| {
            let at = began.elapsed().as_micros() as u64;
            (r.shard_id.clone(), r.partition_key.clone(), common::id_of(&r), at)
        })
        .sink_to(collect.clone(), "collect");
    (job.start(&format!("kinesis-{replica}")), collect, faults)
}

async fn wait_for(collects: &[&CollectSink<Read>], distinct: usize, limit: Duration) {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        let seen: HashSet<u64> = collects.iter().flat_map(|c| c.committed()).map(|r| r.2).collect();
        if seen.len() >= distinct {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_share_shards_by_lineage_and_read_a_merge_after_both_parents() {
    let Some(endpoint) = common::endpoint().await else { return };
    let sdk = common::sdk(&endpoint).await;
    let stream = common::stream(&sdk, "replicas", 4).await;
    let owner = |shard: &str| Replica::owner_of(shard, 2);
    // Two neighbouring shards of different replicas to merge, and another to split.
    let first =
        (0..3).find(|&n| owner(&shard(n)) != owner(&shard(n + 1))).expect("the hash puts all 4 shards on one replica");
    let (kept, merged_into) = (shard(first), shard(first + 1));
    let split_parent = shard(if first == 0 { 3 } else { 0 });
    let (x, y) = (owner(&kept), owner(&merged_into));

    // Y reads through 40 ms of latency each way, 10 records a call: its backlog of the
    // shard merged away lasts seconds, while X could read the merged shard at once.
    let proxy = FaultProxy::for_endpoint(&endpoint).await.unwrap();
    proxy.set_latency(Duration::from_millis(40));
    let slow = common::sdk(&proxy.endpoint_for(&endpoint)).await;
    let dir = tempfile::tempdir().unwrap();
    let board = FinishedSplitsBoard::from_url(&format!("file://{}", dir.path().display())).unwrap();

    put(&sdk, &stream, 0..800).await;
    let (lower, upper) = common::split(&sdk, &stream, &split_parent).await;
    put(&sdk, &stream, 800..1600).await;

    let began = Instant::now();
    let sdk_of = |replica: usize| if replica == y { &slow } else { &sdk };
    let (job_0, read_0, faults_0) = start(Replica::new(0, 2).unwrap(), source(sdk_of(0), &stream, Some(&board)), began);
    let (job_1, read_1, faults_1) = start(Replica::new(1, 2).unwrap(), source(sdk_of(1), &stream, Some(&board)), began);

    // Merge while Y still reads the backlog of the shard merged away.
    let merged = common::merge(&sdk, &stream, &kept, &merged_into).await;
    put(&sdk, &stream, 1600..2400).await;

    wait_for(&[&read_0, &read_1], 2400, Duration::from_secs(90)).await;
    job_0.cancel_and_join().await.unwrap();
    job_1.cancel_and_join().await.unwrap();
    let reads = [read_0.committed(), read_1.committed()];
    let crashes = faults_0.fired().len() + faults_1.fired().len();

    // Every record once, over both replicas.
    let ids: Vec<u64> = reads.iter().flatten().map(|r| r.2).collect();
    let verdict = Verdict::compare(&(0..2400).collect::<Vec<_>>(), &ids, crashes);
    eprintln!("kinesis replicas: {verdict}");
    assert_eq!(crashes, 2 * SuiteConfig::source_crash_at_every_point().faults.unwrap().len(), "{verdict}");
    verdict.check(DeliveryGuarantee::ExactlyOnce).unwrap();

    // Each shard is read by the replica of its lineage: split children with their
    // parent, the merged shard with its first parent.
    let mut readers: BTreeMap<&str, BTreeSet<usize>> = BTreeMap::new();
    for (replica, read) in reads.iter().enumerate() {
        for r in read {
            readers.entry(r.0.as_str()).or_default().insert(replica);
        }
    }
    let expected = |shard: &str| {
        if shard == lower || shard == upper {
            owner(&split_parent)
        } else if shard == merged {
            x
        } else {
            owner(shard)
        }
    };
    for (shard, by) in &readers {
        assert_eq!(by, &BTreeSet::from([expected(shard)]), "{shard} was read by replicas {by:?}");
    }
    assert_eq!(readers.len(), 7, "shards read: {readers:?}");

    // The merged shard was read after Y emitted the last record of its parent, and
    // each replica kept each key's order.
    let last_of_parent = reads[y].iter().filter(|r| r.0 == merged_into).map(|r| r.3).max().unwrap();
    let first_of_merged = reads[x].iter().filter(|r| r.0 == merged).map(|r| r.3).min().unwrap();
    assert!(
        last_of_parent < first_of_merged,
        "replica {x} read merged shard {} at {first_of_merged} µs, before replica {y} emitted the last record of \
         parent {merged_into} at {last_of_parent} µs",
        merged
    );
    for read in &reads {
        let per_key = common::per_key(&read.iter().map(|r| (r.1.clone(), r.2)).collect::<Vec<_>>());
        let out_of_order: Vec<&String> =
            per_key.iter().filter(|(_, ids)| ids.windows(2).any(|w| w[0] > w[1])).map(|(k, _)| k).collect();
        assert!(out_of_order.is_empty(), "keys out of order: {out_of_order:?}");
    }
}

#[tokio::test]
async fn more_than_one_replica_without_a_board_fails_naming_the_option() {
    let Some(sdk) = common::server().await else { return };
    let stream = common::stream(&sdk, "replicas-no-board", 1).await;
    let (job, _, _) = start(Replica::new(1, 2).unwrap(), source(&sdk, &stream, None), Instant::now());
    let error = job.join().await.unwrap_err().to_string();
    assert!(error.contains("finished_shards_board") && error.contains("replica 1 of 2"), "{error}");
}

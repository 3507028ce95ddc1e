//! Replicas: two processes of one job (two jobs in this test process, given replica
//! 0 and replica 1 of 2) read disjoint shares of a topic's partitions on the Kafka
//! test server that together are the whole topic; and shuffle keyed records to each
//! other through a repartition topic, exactly once.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common::*;

use std::collections::BTreeMap;
use std::time::Duration;

use connector_base::schema::Utf8Schema;
use connector_kafka::StoppingOffsets;
use connector_kafka::repartition::Repartition;
use connector_testkit::read_as_replica;
use stream_core::Replica;
use stream_core::api::{Collector, process_fn};
use stream_core::prelude::*;
use stream_core::rescale::OldReplica;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_read_disjoint_partitions_that_cover_the_topic() {
    const N: u64 = 4_000;
    const PARTITIONS: i32 = 8;
    let Some((bootstrap, topic)) = topic("replicas", PARTITIONS).await else { return };
    produce_round_robin(&bootstrap, &topic, PARTITIONS, (0..N).map(|i| format!("RECORD-{i}")));
    let replicas = [Replica::new(0, 2).unwrap(), Replica::new(1, 2).unwrap()];
    let (first, second) = tokio::join!(
        read_as_replica(replicas[0], bounded_source(&bootstrap, &topic)),
        read_as_replica(replicas[1], bounded_source(&bootstrap, &topic))
    );
    let (first, second) = (first.unwrap(), second.unwrap());
    for (replica, read) in replicas.iter().zip([&first, &second]) {
        let owned = (0..PARTITIONS).filter(|p| replica.owns(&format!("{topic}-{p}"))).count();
        assert_eq!(owned > 0, !read.is_empty(), "{replica} owns {owned} partitions and read {}", read.len());
    }
    let seen = count_each(first.into_iter().chain(second).collect());
    assert_eq!(lost_and_duplicated(&seen, N), (0, 0), "lost, duplicated");
}

/// The key of a `RECORD-<i>` of the shuffle test: one of 300.
fn key_of(record: &str) -> u64 {
    record.trim_start_matches("RECORD-").parse::<u64>().unwrap() % 300
}

/// Stage A of `replica`: its share of `input`'s partitions through the exactly-once
/// repartition sink, checkpointing every 100 ms.
async fn shuffle_as_replica(
    replica: Replica,
    bootstrap: &str,
    input: &str,
    shuffle: &Repartition,
) -> stream_core::Result<()> {
    let checkpoints = CheckpointConfig::builder().interval(Duration::from_millis(100)).build()?;
    let env = StreamEnvironment::builder()
        .replica(replica)
        .parallelism(2)
        .checkpointing(checkpoints)
        .restart_strategy(RestartStrategy::None)
        .build()?;
    let sink = shuffle.sink(|r: &String| key_of(r), Utf8Schema, &format!("{}-stage-a", shuffle.topic())).build()?;
    let job = env.from_source(bounded_source(bootstrap, input), "input").sink_to(sink, "shuffle");
    job.execute(&format!("stage-a-{}", replica.index())).await.map(drop)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_shuffle_keys_through_a_repartition_topic_exactly_once() {
    const N: u64 = 6_000;
    let Some((bootstrap, input)) = topic("shuffle-in", 4).await else { return };
    produce_round_robin(&bootstrap, &input, 4, (0..N).map(|i| format!("RECORD-{i}")));
    // A name whose 4 partitions replicas 0 and 1 own 2 and 2: with a random name one
    // replica owned all four in 1 run of 8 and the other read nothing.
    let name = (0..)
        .map(|n| format!("{input}-by-key-{n}"))
        .find(|name| (0..4).filter(|p| Replica::owner_of(&format!("{name}-{p}"), 2) == 0).count() == 2);
    let shuffle = Repartition::new(&bootstrap, name.unwrap(), 4).unwrap();
    let replicas = [Replica::new(0, 2).unwrap(), Replica::new(1, 2).unwrap()];
    // Stage A: both replicas at once, with the same transactional id prefix.
    let (a0, a1) = tokio::join!(
        shuffle_as_replica(replicas[0], &bootstrap, &input, &shuffle),
        shuffle_as_replica(replicas[1], &bootstrap, &input, &shuffle)
    );
    a0.unwrap();
    a1.unwrap();
    // No transaction left open: a read_committed consumer reaches every partition's end.
    let committed = read_committed(&bootstrap, shuffle.topic(), 4);
    assert_eq!(committed.len() as u64, N);
    // Stage B: each replica reads the partitions it owns, so each key reaches one replica.
    let stage_b =
        || shuffle.source(Utf8Schema, &format!("{}-stage-b", shuffle.topic())).bounded(StoppingOffsets::Latest);
    let (b0, b1) = tokio::join!(
        read_as_replica(replicas[0], stage_b().build().unwrap()),
        read_as_replica(replicas[1], stage_b().build().unwrap())
    );
    let mut replica_of_key = BTreeMap::new();
    for (replica, read) in replicas.iter().zip([b0.as_ref().unwrap(), b1.as_ref().unwrap()]) {
        for record in read {
            let key = key_of(record);
            let partition = shuffle.partition_of(&key);
            assert!(replica.owns(&format!("{}-{partition}", shuffle.topic())), "{replica} read key {key}");
            assert_eq!(*replica_of_key.entry(key).or_insert(replica.index()), replica.index(), "key {key} on both");
        }
    }
    assert!(replicas.iter().all(|r| replica_of_key.values().any(|i| *i == r.index())), "a replica read nothing");
    let seen = count_each(b0.unwrap().into_iter().chain(b1.unwrap()).collect());
    assert_eq!(lost_and_duplicated(&seen, N), (0, 0), "lost, duplicated");
}

/// The rescale tests' pace: 600 pauses of 30 ms over the 4 subtasks of two replicas,
/// about 4.5 s, so that a stop after a second or so lands part-way.
fn paced(record: String) -> String {
    if record.ends_with('0') {
        std::thread::sleep(Duration::from_millis(30));
    }
    record
}

/// One replica of a Kafka -> Kafka job that starts from the group's committed offsets
/// and writes exactly once; `bounded` reads to the current end.
fn resuming_job(replica: Replica, bootstrap: &str, input: &str, output: &str, bounded: bool) -> JobHandle {
    let checkpoints = CheckpointConfig::builder().interval(Duration::from_millis(100)).build().unwrap();
    let env = StreamEnvironment::builder()
        .replica(replica)
        .parallelism(2)
        .checkpointing(checkpoints)
        .restart_strategy(RestartStrategy::None)
        .build()
        .unwrap();
    let source = connector_kafka::KafkaSource::builder(bootstrap, connector_kafka::ValueOnly(Utf8Schema))
        .topics([input])
        .group_id(format!("{input}-job"))
        .starting_offsets(connector_kafka::StartingOffsets::Committed { reset: connector_kafka::OffsetReset::Earliest })
        .max_records_per_poll(100);
    let source = if bounded { source.bounded(StoppingOffsets::Latest) } else { source };
    env.from_source(source.build().unwrap(), "input")
        .map(paced)
        .sink_to(exactly_once_sink(bootstrap, output), "output")
        .start(&format!("rescaled-{}-of-{}", replica.index(), replica.count()))
}

/// The documented way to change the replica count of a job whose only state is its
/// source positions: stop every replica with a savepoint (the final checkpoint
/// commits the sinks and the group's offsets), then start the new count on fresh
/// checkpoint storage from the group's committed offsets.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_stopped_with_savepoints_restarts_as_more_replicas_from_committed_offsets() {
    const N: u64 = 6_000;
    let Some((bootstrap, input)) = topic("rescale-in", 6).await else { return };
    let output = create_topic(&bootstrap, "rescale-out", 3).await;
    produce_round_robin(&bootstrap, &input, 6, (0..N).map(|i| format!("RECORD-{i}")));
    let two = [Replica::new(0, 2).unwrap(), Replica::new(1, 2).unwrap()];
    let jobs: Vec<JobHandle> = two.iter().map(|r| resuming_job(*r, &bootstrap, &input, &output, false)).collect();
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let dir = tempfile::tempdir().unwrap();
    for (job, replica) in jobs.into_iter().zip(two) {
        let stopped = job.stop_with_savepoint(dir.path().join(replica.index().to_string())).await.unwrap();
        assert!(stopped.savepoint.is_some(), "{replica} stopped with a savepoint");
    }
    let (b, o) = (bootstrap.clone(), output.clone());
    let before = tokio::task::spawn_blocking(move || read_committed(&b, &o, 3).len()).await.unwrap() as u64;
    assert!(before > 0 && before < N, "the two replicas wrote part of the input: {before}");
    let three: Vec<Replica> = (0..3).map(|i| Replica::new(i, 3).unwrap()).collect();
    let jobs: Vec<JobHandle> = three.iter().map(|r| resuming_job(*r, &bootstrap, &input, &output, true)).collect();
    for job in jobs {
        tokio::time::timeout(Duration::from_secs(60), job.join()).await.unwrap().unwrap();
    }
    let (b, o) = (bootstrap.clone(), output.clone());
    let seen = count_each(tokio::task::spawn_blocking(move || read_committed(&b, &o, 3)).await.unwrap());
    eprintln!("written by two replicas before the stop: {before}");
    assert_eq!(lost_and_duplicated(&seen, N), (0, 0), "lost, duplicated");
}

/// One replica of a keyed count over a repartition topic, written exactly once as
/// `<key>:<count>` to `output`, checkpointed to `checkpoints`; rescaled from
/// `savepoints` (the old replicas') when given; `bounded` reads to the current end.
fn keyed_count_job(
    replica: Replica,
    bootstrap: &str,
    shuffle: &Repartition,
    output: &str,
    checkpoints: &std::path::Path,
    savepoints: Option<&[std::path::PathBuf]>,
    bounded: bool,
) -> JobHandle {
    let mut env = StreamEnvironment::builder()
        .replica(replica)
        .parallelism(2)
        .checkpointing(CheckpointConfig::builder().interval(Duration::from_millis(100)).build().unwrap())
        .state_backend(FsStateBackend::new(checkpoints).unwrap())
        .restart_strategy(RestartStrategy::None);
    if let Some(savepoints) = savepoints {
        env = env.rescale_from(savepoints.iter().map(OldReplica::savepoint), shuffle.key_groups(replica));
    }
    let source = shuffle.source(Utf8Schema, &format!("{}-counts", shuffle.topic())).max_records_per_poll(100);
    let source = if bounded { source.bounded(StoppingOffsets::Latest) } else { source };
    env.build()
        .unwrap()
        .from_source(source.build().unwrap(), "input")
        .uid("input")
        .map(paced)
        .key_by(|record: &String| key_of(record))
        .process(
            "count",
            process_fn(|key: &u64, count: &mut u64, _record: String, out: &mut Collector<String>| {
                *count += 1;
                out.collect(format!("{key}:{count}"));
                Ok(())
            }),
        )
        .uid("count")
        .sink_to(exactly_once_sink(bootstrap, output), "output")
        .uid("output")
        .start(&format!("counts-{}-of-{}", replica.index(), replica.count()))
}

/// A full rescale: the keyed counts of two replicas stopped with savepoints go on in
/// three, each restoring the counts of the keys whose partitions it now reads. Every
/// key's counts `1..=n` are written once: a count restarted, lost or repeated shows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyed_counts_of_two_replicas_go_on_in_three_after_a_rescale_from_savepoints() {
    const N: u64 = 6_000;
    const PARTITIONS: usize = 6;
    let Some((bootstrap, output)) = topic("rescale-counts-out", 3).await else { return };
    // A topic name whose partitions every replica of two and of three reads some of.
    let spread = |name: &str, count: usize| {
        (0..count).all(|r| (0..PARTITIONS).any(|p| Replica::owner_of(&format!("{name}-{p}"), count) == r))
    };
    let name = (0..).map(|n| format!("{output}-by-key-{n}")).find(|n| spread(n, 2) && spread(n, 3)).unwrap();
    let shuffle = Repartition::new(&bootstrap, &name, PARTITIONS).unwrap();
    create_named_topic(&bootstrap, &name, PARTITIONS as i32).await;
    let records = (0..N).map(|i| format!("RECORD-{i}"));
    produce_partitioned(&bootstrap, &name, records, |r| shuffle.partition_of(&key_of(r)));

    let dir = tempfile::tempdir().unwrap();
    let two = [Replica::new(0, 2).unwrap(), Replica::new(1, 2).unwrap()];
    let savepoints: Vec<std::path::PathBuf> =
        two.iter().map(|r| dir.path().join(format!("sp-{}", r.index()))).collect();
    let jobs: Vec<JobHandle> = two
        .iter()
        .map(|r| {
            keyed_count_job(
                *r,
                &bootstrap,
                &shuffle,
                &output,
                &dir.path().join(format!("two-{}", r.index())),
                None,
                false,
            )
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    let stops = jobs.into_iter().zip(&savepoints).map(|(job, savepoint)| job.stop_with_savepoint(savepoint));
    for stopped in futures::future::join_all(stops).await {
        stopped.unwrap();
    }
    let (b, o) = (bootstrap.clone(), output.clone());
    let before = tokio::task::spawn_blocking(move || read_committed(&b, &o, 3).len()).await.unwrap() as u64;
    assert!(before > 0 && before < N, "the two replicas counted part of the input: {before}");

    let three: Vec<Replica> = (0..3).map(|i| Replica::new(i, 3).unwrap()).collect();
    let jobs: Vec<JobHandle> = three
        .iter()
        .map(|r| {
            let checkpoints = dir.path().join(format!("three-{}", r.index()));
            keyed_count_job(*r, &bootstrap, &shuffle, &output, &checkpoints, Some(&savepoints), true)
        })
        .collect();
    for job in jobs {
        tokio::time::timeout(Duration::from_secs(60), job.join()).await.unwrap().unwrap();
    }
    let (b, o) = (bootstrap.clone(), output.clone());
    let written = tokio::task::spawn_blocking(move || read_committed(&b, &o, 3)).await.unwrap();
    let mut expected = std::collections::BTreeMap::new();
    for i in 0..N {
        let key = i % 300;
        let n = expected.entry(key).or_insert(0u64);
        *n += 1;
    }
    let expected: Vec<String> =
        expected.iter().flat_map(|(key, n)| (1..=*n).map(move |c| format!("{key}:{c}"))).collect();
    let after = written.len() as u64 - before;
    let seen = count_each(written);
    let lost = expected.iter().filter(|e| !seen.contains_key(*e)).count();
    let repeated: usize = seen.values().map(|n| n - 1).sum();
    let unexpected = seen.len() - (expected.len() - lost);
    eprintln!("counted by two replicas before the stop: {before} of {N}; by three after: {after}");
    assert_eq!((lost, repeated, unexpected), (0, 0, 0), "lost, repeated, unexpected counts");
}

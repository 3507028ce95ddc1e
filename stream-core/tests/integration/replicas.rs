//! Replicas: the processes of one job (here two jobs in one test process, given
//! replica 0 and replica 1 of 2) read disjoint shares of a source's splits that
//! together are all of it; and the keyed state of two replicas is restored into three,
//! each keeping its keys.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common::{KEYS, key_of, keyed_count, verify_counts};

use std::collections::BTreeSet;
use std::time::Duration;

use stream_core::Replica;
use stream_core::prelude::*;
use stream_core::rescale::{KeyGroups, OldReplica};
use stream_core::state::StateBackend;

async fn read_as(replica: Replica, n: u64) -> Vec<u64> {
    let sink = CollectSink::<u64>::new();
    StreamEnvironment::builder()
        .replica(replica)
        .parallelism(2)
        .build()
        .unwrap()
        .from_source(CollectionSource::sequence(0..n).splits_per_reader(8).unwrap(), "numbers")
        .sink_to(sink.clone(), "sink")
        .execute(&format!("replica-{}", replica.index()))
        .await
        .unwrap();
    sink.committed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_read_disjoint_shares_that_cover_the_input() {
    const N: u64 = 20_000;
    let (first, second) =
        tokio::join!(read_as(Replica::new(0, 2).unwrap(), N), read_as(Replica::new(1, 2).unwrap(), N));
    for share in [&first, &second] {
        let part = share.len() as u64;
        assert!(part > N / 5 && part < N * 4 / 5, "each replica reads a share: {} and {}", first.len(), second.len());
    }
    let mut all: Vec<u64> = first.iter().chain(&second).copied().collect();
    all.sort_unstable();
    let read = all.len();
    all.dedup();
    assert_eq!((read - all.len(), all.len() as u64), (0, N), "duplicated, distinct");
}

// ---- rescaling keyed state to another replica count -------------------------------

/// Keys hash into this many groups (a repartition topic's partitions); a replica owns
/// the groups it reads.
const GROUPS: usize = 8;

fn groups_of(replica: Replica) -> KeyGroups {
    KeyGroups::new(GROUPS, (0..GROUPS).filter(|g| replica.owns(&format!("counts-{g}")))).unwrap()
}

/// One replica's keyed count of `numbers` (those of the keys it owns), checkpointed
/// to `checkpoints`; rescaled from `savepoints` when given. The input is the
/// replica's own already (as a repartition topic's partitions would be): the
/// collection source would split it again by replica, so the environment is not told
/// the replica, only the keys. Every job writes to `sink`.
async fn count_as(
    replica: Replica,
    numbers: Vec<u64>,
    checkpoints: &std::path::Path,
    savepoints: Option<&[std::path::PathBuf]>,
    sink: &CollectSink<(u64, u64)>,
) -> stream_core::Result<()> {
    let mut builder = StreamEnvironment::builder()
        .parallelism(2)
        .checkpointing(CheckpointConfig::builder().interval(Duration::from_millis(50)).build()?)
        .state_backend(FsStateBackend::new(checkpoints)?);
    if let Some(savepoints) = savepoints {
        // The old replicas' checkpoint storage: its newest checkpoint is their last.
        let old = savepoints.iter().map(|dir| OldReplica::storage(FsStateBackend::new(dir).unwrap()));
        builder = builder.rescale_from(old, groups_of(replica));
    }
    builder
        .build()?
        .from_source(CollectionSource::new(numbers), "numbers")
        .uid("numbers")
        .key_by(key_of)
        .process("count", keyed_count())
        .uid("count")
        .sink_to(sink.clone(), "sink")
        .uid("sink")
        .execute(&format!("count-{}-of-{}", replica.index(), replica.count()))
        .await
        .map(drop)
}

/// The numbers of `range` whose key `replica`'s groups own.
fn owned_numbers(replica: Replica, range: std::ops::Range<u64>) -> Vec<u64> {
    let groups = groups_of(replica);
    range.filter(|x| groups.owns(&key_of(x))).collect()
}

/// The keys in the keyed state of the newest checkpoint in `checkpoints`.
fn keys_in_state(checkpoints: &std::path::Path) -> BTreeSet<u64> {
    let checkpoint = FsStateBackend::new(checkpoints).unwrap().latest().unwrap().unwrap();
    let states = checkpoint.tasks.iter().filter(|(key, _)| key.starts_with("count/"));
    states.flat_map(|(_, state)| state.decode::<Vec<(u64, u64)>>("count").unwrap()).map(|(key, _)| key).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyed_state_of_two_replicas_is_rescaled_into_three_by_key() {
    const FIRST: u64 = 3_000;
    const ALL: u64 = 7_000;
    let dir = tempfile::tempdir().unwrap();
    let two: Vec<Replica> = (0..2).map(|i| Replica::new(i, 2).unwrap()).collect();
    let three: Vec<Replica> = (0..3).map(|i| Replica::new(i, 3).unwrap()).collect();
    let old: Vec<std::path::PathBuf> = two.iter().map(|r| dir.path().join(format!("two-{}", r.index()))).collect();
    let sink = CollectSink::new();
    let (a, b) = tokio::join!(
        count_as(two[0], owned_numbers(two[0], 0..FIRST), &old[0], None, &sink),
        count_as(two[1], owned_numbers(two[1], 0..FIRST), &old[1], None, &sink)
    );
    for result in [a, b] {
        result.unwrap();
    }
    // The rest, counted by three replicas restored from the two's last checkpoints.
    let new: Vec<std::path::PathBuf> = three.iter().map(|r| dir.path().join(format!("three-{}", r.index()))).collect();
    let (c, d, e) = tokio::join!(
        count_as(three[0], owned_numbers(three[0], FIRST..ALL), &new[0], Some(&old), &sink),
        count_as(three[1], owned_numbers(three[1], FIRST..ALL), &new[1], Some(&old), &sink),
        count_as(three[2], owned_numbers(three[2], FIRST..ALL), &new[2], Some(&old), &sink)
    );
    for result in [c, d, e] {
        result.unwrap();
    }
    let verdict = verify_counts(0..ALL, &sink.committed());
    assert_eq!((verdict.lost, verdict.duplicated, verdict.undercounted_keys), (0, 0, 0), "{verdict:?}");
    // Each new replica keeps the state of its keys only; together, of every key.
    let mut all = BTreeSet::new();
    for (replica, checkpoints) in three.iter().zip(&new) {
        let keys = keys_in_state(checkpoints);
        let foreign: Vec<&u64> = keys.iter().filter(|k| !groups_of(*replica).owns(*k)).collect();
        assert!(foreign.is_empty(), "{replica} holds the state of keys it does not own: {foreign:?}");
        all.extend(keys);
    }
    assert_eq!(all, (0..KEYS).collect::<BTreeSet<u64>>());
    // A rescaled replica on an old replica's checkpoint storage would take that
    // replica's state for its own: it fails at start instead.
    let err = count_as(three[0], vec![], &old[0], Some(&old), &sink).await.unwrap_err();
    assert!(err.to_string().contains("checkpoint storage of its own") && err.is_permanent(), "{err}");
}

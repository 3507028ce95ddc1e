//! Which reader owns a partition of a topic, for sources that assign each partition to
//! one reader for good (Kafka, Pulsar): the topic's hash picks a first reader and its
//! partitions follow round the readers, stable across runs with the same parallelism;
//! [`assign_owned`] hands a reader the pending splits it owns.

use stream_core::api::{EnumeratorContext, SourceSplit};

/// Assign to `subtask` every split of `pending` it owns (by `owner`, the subtask a
/// split belongs to); the rest stay pending. Whether any was assigned.
pub fn assign_owned<S: SourceSplit>(
    pending: &mut Vec<S>,
    subtask: usize,
    ctx: &mut EnumeratorContext<S>,
    owner: impl Fn(&S) -> usize,
) -> bool {
    let (mine, rest): (Vec<S>, Vec<S>) = std::mem::take(pending).into_iter().partition(|s| owner(s) == subtask);
    *pending = rest;
    let any = !mine.is_empty();
    for split in mine {
        ctx.assign_split(subtask, split);
    }
    any
}

/// The subtask (of `parallelism`) that reads `partition` of `topic`.
pub fn partition_owner(topic: &str, partition: i32, parallelism: usize) -> usize {
    let parallelism = parallelism.max(1);
    // FNV-1a: stable across processes and Rust versions.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in topic.bytes() {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    let start = (hash % parallelism as u64) as usize;
    (start + partition.max(0) as usize) % parallelism
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_partitions_of_a_topic_go_round_the_readers() {
        let owners: Vec<usize> = (0..6).map(|p| partition_owner("orders", p, 3)).collect();
        let mut counts = [0; 3];
        owners.iter().for_each(|o| counts[*o] += 1);
        assert_eq!(counts, [2, 2, 2], "{owners:?}");
        assert_eq!(owners, (0..6).map(|p| partition_owner("orders", p, 3)).collect::<Vec<_>>(), "stable");
        assert_eq!(partition_owner("orders", 5, 0), 0);
    }
}

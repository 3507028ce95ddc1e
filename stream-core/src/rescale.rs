//! Rescaling a job with keyed state to another replica count. Every old replica stops
//! with a savepoint; each replica of the new count starts from all of them
//! ([`StreamEnvironmentBuilder::rescale_from`](crate::StreamEnvironmentBuilder::rescale_from),
//! each named by an [`OldReplica`]) and keeps the keyed state of the keys it now owns
//! ([`KeyGroups`]). Sources start
//! afresh from their starting position (for Kafka, the group's offsets the savepoints
//! committed); sinks start with nothing restored: a savepoint is taken when the
//! stopped job has written everything, and the job ends only once it is committed.

use std::collections::{BTreeMap, BTreeSet};
use std::hash::Hash;
use std::path::PathBuf;
use std::sync::Arc;

use crate::error::{Result, StreamError};
use crate::runtime::partition::key_owner;
use crate::state::{CheckpointData, StateBackend};

/// Which keys a replica owns: keys hash into `count` groups (the runtime's key hash,
/// so group `g` of a key is `Replica::owner_of(key, count)`), and a replica owns some
/// of the groups. A Kafka repartition topic of `P` partitions is `P` groups, and a
/// replica owns the groups of the partitions it reads
/// (`connector_kafka::repartition::Repartition::key_groups`).
///
/// ```
/// use stream_core::Replica;
/// use stream_core::rescale::KeyGroups;
///
/// # fn main() -> stream_core::Result<()> {
/// let replica = Replica::new(1, 3)?;
/// let groups = KeyGroups::new(8, (0..8).filter(|g| replica.owns(&format!("counts-{g}"))))?;
/// assert_eq!(groups.owns("user-7"), groups.owned().contains(&Replica::owner_of("user-7", 8)));
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyGroups {
    count: usize,
    owned: BTreeSet<usize>,
}

impl KeyGroups {
    /// Groups `owned` of `count`; fails naming a count of 0 or a group not below it.
    pub fn new(count: usize, owned: impl IntoIterator<Item = usize>) -> Result<Self> {
        if count == 0 {
            return Err(StreamError::invalid("key groups", 0, "keys hash into at least one group"));
        }
        let owned: BTreeSet<usize> = owned.into_iter().collect();
        if let Some(group) = owned.iter().find(|g| **g >= count) {
            return Err(StreamError::invalid("key group", group, format!("must be below the count, {count}")));
        }
        Ok(KeyGroups { count, owned })
    }

    /// Every group: one replica owns every key.
    pub fn all() -> Self {
        KeyGroups { count: 1, owned: BTreeSet::from([0]) }
    }

    /// Whether the group of `key` is owned.
    pub fn owns<K: Hash + ?Sized>(&self, key: &K) -> bool {
        self.owned.contains(&key_owner(key, self.count))
    }

    /// How many groups keys hash into.
    pub fn count(&self) -> usize {
        self.count
    }

    /// The groups owned.
    pub fn owned(&self) -> &BTreeSet<usize> {
        &self.owned
    }
}

/// Where the last state of one old replica is.
#[derive(Debug, Clone)]
pub enum OldReplica {
    /// A savepoint directory
    /// ([`JobHandle::stop_with_savepoint`](crate::JobHandle::stop_with_savepoint)).
    Savepoint(PathBuf),
    /// The replica's checkpoint storage (its S3 prefix): its newest checkpoint, which
    /// is the savepoint its stop took. Read only.
    Storage(Arc<dyn StateBackend>),
}

impl OldReplica {
    /// The savepoint in `dir`.
    pub fn savepoint(dir: impl Into<PathBuf>) -> Self {
        OldReplica::Savepoint(dir.into())
    }

    /// The newest checkpoint in `backend`.
    pub fn storage(backend: impl StateBackend) -> Self {
        OldReplica::Storage(Arc::new(backend))
    }

    /// Its last state, read once when the rescaled job starts.
    pub(crate) fn read(&self) -> Result<CheckpointData> {
        match self {
            OldReplica::Savepoint(dir) => crate::savepoint::read(dir),
            OldReplica::Storage(backend) => backend.latest()?.ok_or_else(|| {
                StreamError::permanent(StreamError::invalid(
                    "rescale_from",
                    format!("{backend:?}"),
                    "holds no checkpoint: give the storage of an old replica that was stopped with a savepoint",
                ))
            }),
        }
    }
}

/// What a rescaled job starts from: the old replicas' last states and the keys this
/// replica keeps.
#[derive(Debug, Clone)]
pub(crate) struct Rescale {
    pub(crate) old: Vec<OldReplica>,
    pub(crate) keys: KeyGroups,
}

/// How an attempt restores the state of its stages.
#[derive(Debug, Clone, Default)]
pub(crate) enum RestoreMode {
    /// As checkpointed by this job (or a savepoint of the same replica count).
    #[default]
    Same,
    /// From the merged savepoints of another replica count: keyed state of owned keys
    /// only; sources and sinks afresh.
    Rescaled { keys: KeyGroups },
}

impl RestoreMode {
    /// The keys kept, when rescaled.
    pub(crate) fn rescaled_keys(&self) -> Option<&KeyGroups> {
        match self {
            RestoreMode::Same => None,
            RestoreMode::Rescaled { keys } => Some(keys),
        }
    }

    /// Whether sources and sinks start afresh (their state belonged to the old
    /// replicas' splits and writers).
    pub(crate) fn is_rescaled(&self) -> bool {
        matches!(self, RestoreMode::Rescaled { .. })
    }
}

/// One checkpoint of the old replicas' savepoints, in the order given: the subtasks
/// of each stage are numbered on from one savepoint to the next, as if one process of
/// all their subtasks had taken it. Enumerator states are left out (sources start
/// afresh). Its id is the newest of theirs.
pub(crate) fn merge(savepoints: Vec<CheckpointData>) -> CheckpointData {
    let id = savepoints.iter().map(|s| s.id).max().unwrap_or(0);
    let timestamp_ms = savepoints.iter().map(|s| s.timestamp_ms).max().unwrap_or(0);
    let mut tasks = BTreeMap::new();
    let mut next_subtask: BTreeMap<String, usize> = BTreeMap::new();
    for savepoint in savepoints {
        let mut subtasks: BTreeMap<String, usize> = BTreeMap::new();
        for (key, state) in savepoint.tasks {
            let Some((stage, subtask)) = key.rsplit_once('/').and_then(|(s, n)| Some((s, n.parse::<usize>().ok()?)))
            else {
                continue;
            };
            let first = next_subtask.get(stage).copied().unwrap_or(0);
            tasks.insert(format!("{stage}/{}", first + subtask), state);
            let seen = subtasks.entry(stage.to_string()).or_default();
            *seen = (*seen).max(subtask + 1);
        }
        for (stage, count) in subtasks {
            *next_subtask.entry(stage).or_default() += count;
        }
    }
    CheckpointData { id, timestamp_ms, enumerator: None, tasks }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replica::Replica;
    use crate::state::StateBlob;

    fn savepoint(id: u64, tasks: &[(&str, u64)]) -> CheckpointData {
        let tasks = tasks.iter().map(|(k, v)| (k.to_string(), StateBlob::encode("t", v).unwrap())).collect();
        CheckpointData { id, timestamp_ms: id, enumerator: None, tasks }
    }

    #[test]
    fn subtasks_are_numbered_on_from_one_savepoint_to_the_next() {
        let first = savepoint(7, &[("count/0", 1), ("count/1", 2), ("source/0", 3), ("source/enumerator", 4)]);
        let second = savepoint(9, &[("count/0", 5), ("count/1", 6), ("source/0", 7)]);
        let merged = merge(vec![first, second]);
        assert_eq!(merged.id, 9);
        let values: Vec<(String, u64)> =
            merged.tasks.iter().map(|(k, v)| (k.clone(), v.decode::<u64>("t").unwrap())).collect();
        let expected =
            [("count/0", 1), ("count/1", 2), ("count/2", 5), ("count/3", 6), ("source/0", 3), ("source/1", 7)];
        assert_eq!(values, expected.map(|(k, v)| (k.to_string(), v)).to_vec());
    }

    #[test]
    fn key_groups_are_validated_and_split_the_keys() {
        assert!(KeyGroups::new(0, []).is_err());
        let err = KeyGroups::new(4, [1, 4]).unwrap_err();
        assert!(err.to_string().contains("must be below the count, 4"), "{err}");
        let (low, high) = (KeyGroups::new(4, [0, 1]).unwrap(), KeyGroups::new(4, [2, 3]).unwrap());
        let keys: Vec<String> = (0..200).map(|i| format!("key-{i}")).collect();
        assert!(keys.iter().all(|k| low.owns(k) != high.owns(k)));
        assert!(keys.iter().any(|k| low.owns(k)) && keys.iter().any(|k| high.owns(k)));
        assert!(keys.iter().all(|k| KeyGroups::all().owns(k)));
        assert!(keys.iter().all(|k| low.owns(k) == (Replica::owner_of(k, 4) < 2)));
    }
}

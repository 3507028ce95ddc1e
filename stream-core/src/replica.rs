//! Replicas: several processes running the same job binary (pods of a Kubernetes
//! StatefulSet or Indexed Job), each owning a deterministic share of the splits.
//! No barrier crosses processes: each replica checkpoints on its own.

use std::hash::Hash;

use crate::error::{Result, StreamError};
use crate::runtime::partition::key_owner;

/// The variable that gives the number of replicas (set in the manifest).
pub const REPLICA_COUNT_VAR: &str = "REPLICA_COUNT";
/// The variable that gives this process's index explicitly.
pub const REPLICA_INDEX_VAR: &str = "REPLICA_INDEX";
/// The index Kubernetes gives each pod of an Indexed Job.
pub const JOB_COMPLETION_INDEX_VAR: &str = "JOB_COMPLETION_INDEX";

/// Which of the job's `count` processes this one is (`index` in `0..count`).
///
/// ```
/// use stream_core::Replica;
///
/// let replica = Replica::new(1, 3).unwrap();
/// // Every split belongs to exactly one replica, the same in every process.
/// let owners: Vec<usize> = (0..3).map(|i| usize::from(Replica::new(i, 3).unwrap().owns("orders-7"))).collect();
/// assert_eq!(owners.iter().sum::<usize>(), 1);
/// assert_eq!(replica.owns("orders-7"), Replica::owner_of("orders-7", 3) == 1);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Replica {
    index: usize,
    count: usize,
}

impl Default for Replica {
    fn default() -> Self {
        Replica::SINGLE
    }
}

impl std::fmt::Display for Replica {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "replica {} of {}", self.index, self.count)
    }
}

impl Replica {
    /// The only process of a job (the default).
    pub const SINGLE: Replica = Replica { index: 0, count: 1 };

    /// Replica `index` of `count`; fails naming the bad value.
    pub fn new(index: usize, count: usize) -> Result<Replica> {
        if count == 0 {
            return Err(StreamError::invalid("replica count", 0, "at least one replica runs"));
        }
        if index >= count {
            return Err(StreamError::invalid("replica index", index, format!("must be below the count, {count}")));
        }
        Ok(Replica { index, count })
    }

    /// From the environment: [`SINGLE`](Self::SINGLE) when `REPLICA_COUNT` is not
    /// set; otherwise the index from `REPLICA_INDEX`, else `JOB_COMPLETION_INDEX`
    /// (a Kubernetes Indexed Job), else the ordinal that ends `HOSTNAME` (a
    /// StatefulSet's pod `name-2` is replica 2).
    pub fn from_env() -> Result<Replica> {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    /// [`from_env`](Self::from_env) with the variables given by `var`.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Replica> {
        let Some(count) = var(REPLICA_COUNT_VAR) else { return Ok(Replica::SINGLE) };
        let count = count
            .trim()
            .parse::<usize>()
            .map_err(|_| StreamError::invalid("REPLICA_COUNT", &count, "give the number of replicas"))?;
        let index = if let Some(index) = var(REPLICA_INDEX_VAR) {
            parse_index(REPLICA_INDEX_VAR, &index)?
        } else if let Some(index) = var(JOB_COMPLETION_INDEX_VAR) {
            parse_index(JOB_COMPLETION_INDEX_VAR, &index)?
        } else {
            let host = var("HOSTNAME").unwrap_or_default();
            let ordinal = host.rsplit_once('-').and_then(|(_, n)| n.parse::<usize>().ok());
            ordinal.ok_or_else(|| {
                StreamError::invalid(
                    "HOSTNAME",
                    &host,
                    "REPLICA_COUNT is set but no index is: set REPLICA_INDEX, run as an Indexed Job \
                     (JOB_COMPLETION_INDEX), or as a StatefulSet (hostname ending in -<ordinal>)",
                )
            })?
        };
        Replica::new(index, count)
    }

    /// This replica's index, `0..count`.
    pub fn index(&self) -> usize {
        self.index
    }

    /// The number of replicas.
    pub fn count(&self) -> usize {
        self.count
    }

    /// Whether this replica owns the split with id `split_id`.
    pub fn owns(&self, split_id: &str) -> bool {
        Self::owner_of(split_id, self.count) == self.index
    }

    /// The replica (of `count`) that owns `split_id`: the hash the runtime partitions
    /// keys by, so a split id and a record key with the same value go to the same
    /// index. Stable across processes of one build.
    pub fn owner_of<K: Hash + ?Sized>(split_id: &K, count: usize) -> usize {
        key_owner(split_id, count.max(1))
    }
}

fn parse_index(variable: &'static str, value: &str) -> Result<usize> {
    value.trim().parse::<usize>().map_err(|_| StreamError::invalid(variable, value, "give the replica's index from 0"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |name| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    }

    #[test]
    fn the_index_comes_from_the_explicit_variable_the_indexed_job_or_the_pod_name() {
        assert_eq!(Replica::from_vars(vars(&[("HOSTNAME", "job-3")])).unwrap(), Replica::SINGLE);
        let explicit = vars(&[("REPLICA_COUNT", "4"), ("REPLICA_INDEX", "2"), ("HOSTNAME", "job-3")]);
        assert_eq!(Replica::from_vars(explicit).unwrap(), Replica::new(2, 4).unwrap());
        let indexed = vars(&[("REPLICA_COUNT", "4"), ("JOB_COMPLETION_INDEX", "1"), ("HOSTNAME", "job-x7")]);
        assert_eq!(Replica::from_vars(indexed).unwrap(), Replica::new(1, 4).unwrap());
        let pod = vars(&[("REPLICA_COUNT", "4"), ("HOSTNAME", "word-count-3")]);
        assert_eq!(Replica::from_vars(pod).unwrap(), Replica::new(3, 4).unwrap());
    }

    #[test]
    fn bad_values_are_named() {
        let error = |pairs: &[(&str, &str)]| Replica::from_vars(vars(pairs)).unwrap_err().to_string();
        assert!(error(&[("REPLICA_COUNT", "two")]).contains("`REPLICA_COUNT` = two"));
        assert!(error(&[("REPLICA_COUNT", "2"), ("HOSTNAME", "worker")]).contains("`HOSTNAME` = worker"));
        assert!(error(&[("REPLICA_COUNT", "2"), ("REPLICA_INDEX", "2")]).contains("`replica index` = 2"));
        assert!(error(&[("REPLICA_COUNT", "0"), ("REPLICA_INDEX", "0")]).contains("`replica count` = 0"));
        assert!(error(&[("REPLICA_COUNT", "2"), ("JOB_COMPLETION_INDEX", "-1")]).contains("JOB_COMPLETION_INDEX"));
    }

    #[test]
    fn every_split_has_one_owner_and_shares_are_even() {
        let count = 3;
        let mut shares = [0usize; 3];
        for split in 0..3_000 {
            let id = format!("orders-{split}");
            let owners: Vec<usize> = (0..count).filter(|i| Replica::new(*i, count).unwrap().owns(&id)).collect();
            assert_eq!(owners.len(), 1, "{id}: {owners:?}");
            shares[owners[0]] += 1;
        }
        assert!(shares.iter().all(|s| (900..=1_100).contains(s)), "{shares:?}");
        assert!(Replica::SINGLE.owns("anything"));
    }
}

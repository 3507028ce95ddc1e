//! Partitioning between stages and the stable key hash used for it.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

/// How records of one upstream subtask are spread over the downstream subtasks.
/// (Forward edges need no channel: the downstream operator is chained.)
pub(crate) enum Partitioner<T> {
    /// Batches go round robin to the downstream subtasks.
    Rebalance,
    /// Records go by the hash of their key.
    Hash(Arc<dyn KeyRouter<T>>),
}

/// Routes records to downstream buffers by key; generic over the key function so
/// that the per-record work is inlined and dispatch happens once per batch.
pub(crate) trait KeyRouter<T>: Send + Sync {
    /// Move every record of `records` into `buffers[owner]`.
    fn route_all(&self, records: &mut Vec<T>, buffers: &mut [Vec<T>]);
}

/// The [`KeyRouter`] of `key_by(key_fn)`.
pub(crate) struct HashByKey<KF>(pub(crate) KF);

impl<T, K: Hash, KF: Fn(&T) -> K + Send + Sync> KeyRouter<T> for HashByKey<KF> {
    #[inline]
    fn route_all(&self, records: &mut Vec<T>, buffers: &mut [Vec<T>]) {
        let n = buffers.len();
        for record in records.drain(..) {
            let at = owner_of_hash(key_hash(&(self.0)(&record)), n);
            buffers[at].push(record);
        }
    }
}

impl<T> Clone for Partitioner<T> {
    fn clone(&self) -> Self {
        match self {
            Partitioner::Rebalance => Partitioner::Rebalance,
            Partitioner::Hash(f) => Partitioner::Hash(f.clone()),
        }
    }
}

/// Hash of a key, well mixed in every bit so that `% parallelism` spreads evenly.
pub(crate) fn key_hash<K: Hash + ?Sized>(key: &K) -> u64 {
    let mut hasher = rustc_hash::FxHasher::default();
    key.hash(&mut hasher);
    // murmur3's finalizer: FxHash keeps low bits of integers as they are.
    let mut h = hasher.finish();
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// The subtask that owns `key` among `parallelism` subtasks.
pub(crate) fn key_owner<K: Hash + ?Sized>(key: &K, parallelism: usize) -> usize {
    owner_of_hash(key_hash(key), parallelism)
}

/// Map a well-mixed hash onto `0..parallelism` with a multiply instead of a
/// division (Lemire's range reduction); routing and restore both use it.
#[inline]
pub(crate) fn owner_of_hash(hash: u64, parallelism: usize) -> usize {
    ((hash as u128 * parallelism as u128) >> 64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn even_keys_spread_over_two_subtasks() {
        let mut counts = [0usize; 2];
        for k in (0u64..2000).map(|x| x * 2) {
            counts[key_owner(&k, 2)] += 1;
        }
        assert!(counts[0] > 800 && counts[1] > 800, "{counts:?}");
    }
}

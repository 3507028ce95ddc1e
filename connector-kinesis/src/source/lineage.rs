//! Shards shared among replicas by lineage. A shard goes to the replica of its first
//! parent (`ParentShardId`), so both children of a split are read where their parent
//! was and keep their keys' order without asking anyone; a shard with no parent in
//! the listing goes by `Replica::owner_of` of its id. The other parent of a merge may
//! belong to another replica: that replica posts it on the finished-shards board once
//! a checkpoint covering its end completed, and the merged shard waits for that post.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::time::Duration;

use stream_core::Replica;
use stream_core::state::FinishedSplitsBoard;

use super::enumerator::{KinesisEnumeratorState, Listed};

/// How long one call to the board may take: the enumerator runs in the checkpoint
/// coordinator, which a hung call would hold up.
const BOARD_TIMEOUT: Duration = Duration::from_secs(10);

/// Record the replica of every listed shard not recorded yet. Parents are resolved
/// before children, from the listing or from what was recorded before.
pub(crate) fn assign_replicas(listed: &[Listed], replicas: &mut BTreeMap<String, usize>, count: usize) {
    let parent_of: BTreeMap<&str, Option<&str>> =
        listed.iter().map(|s| (s.id.as_str(), s.parents.first().map(String::as_str))).collect();
    for shard in listed {
        // The shard, then its ancestors up to one whose replica is known or has no
        // listed parent; resolved from the oldest down.
        let mut line = vec![shard.id.as_str()];
        let mut replica = None;
        while let Some(&id) = line.last() {
            if let Some(known) = replicas.get(id) {
                replica = Some(*known);
                line.pop();
                break;
            }
            match parent_of.get(id).copied().flatten() {
                Some(parent) if parent_of.contains_key(parent) || replicas.contains_key(parent) => line.push(parent),
                _ => break,
            }
        }
        let mut replica = replica.unwrap_or_else(|| line.last().map_or(0, |root| Replica::owner_of(*root, count)));
        while let Some(id) = line.pop() {
            replica = *replicas.entry(id.to_string()).or_insert(replica);
        }
    }
}

/// The board of one stream, and the finished shards on their way to it.
#[derive(Debug)]
pub(crate) struct BoardSync {
    board: FinishedSplitsBoard,
    /// Unposted shards in the snapshot of each checkpoint not known complete yet.
    snapshotted: Vec<(u64, BTreeSet<String>)>,
    /// Finished shards a completed checkpoint covers: to post.
    postable: BTreeSet<String>,
}

impl BoardSync {
    /// `restored` is the unposted set of the checkpoint the job restored from: it
    /// completed, so they may be posted now.
    pub(crate) fn new(board: FinishedSplitsBoard, restored: BTreeSet<String>) -> Self {
        BoardSync { board, snapshotted: Vec::new(), postable: restored }
    }

    /// Checkpoint `id` snapshotted these unposted shards.
    pub(crate) fn snapshotted(&mut self, id: u64, unposted: &BTreeSet<String>) {
        if !unposted.is_empty() {
            self.snapshotted.push((id, unposted.clone()));
        }
    }

    /// Checkpoint `id` completed: what it and earlier ones snapshotted may be posted.
    pub(crate) fn completed(&mut self, id: u64) {
        let (done, later) = std::mem::take(&mut self.snapshotted).into_iter().partition(|(at, _)| *at <= id);
        self.snapshotted = later;
        self.postable.extend(done.into_iter().flat_map(|(_, shards): (u64, BTreeSet<String>)| shards));
    }

    /// Post what may be posted, then mark finished every waiting parent that another
    /// replica posted. A failing board is logged and tried again at the next call.
    pub(crate) async fn sync(&mut self, state: &mut KinesisEnumeratorState, me: usize) {
        for shard in self.postable.clone() {
            match within(self.board.post(&shard)).await {
                Ok(()) => {
                    tracing::info!(%shard, board = ?self.board, "posted a finished shard for the other replicas");
                    self.postable.remove(&shard);
                    state.unposted.remove(&shard);
                }
                Err(e) => {
                    tracing::warn!(%shard, board = ?self.board, error = %e, "cannot post a finished shard; trying again later");
                    break;
                }
            }
        }
        let elsewhere: BTreeSet<String> = state
            .pending
            .iter()
            .flat_map(|split| &split.parents)
            .filter(|p| !state.finished.contains(*p) && state.replicas.get(*p).is_some_and(|r| *r != me))
            .cloned()
            .collect();
        for parent in elsewhere {
            match within(self.board.is_finished(&parent)).await {
                Ok(true) => {
                    tracing::info!(shard = %parent, "another replica read this parent to its end");
                    state.finished.insert(parent);
                }
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(shard = %parent, board = ?self.board, error = %e, "cannot read the board; trying again later");
                    break;
                }
            }
        }
    }
}

async fn within<T>(call: impl Future<Output = stream_core::Result<T>>) -> Result<T, String> {
    match tokio::time::timeout(BOARD_TIMEOUT, call).await {
        Ok(result) => result.map_err(|e| e.to_string()),
        Err(_) => Err(format!("no answer within {BOARD_TIMEOUT:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shard(id: &str, parents: &[&str]) -> Listed {
        Listed { id: id.to_string(), parents: parents.iter().map(|p| p.to_string()).collect() }
    }

    #[test]
    fn children_go_where_their_first_parent_went() {
        // 0 and 1 at the start; 0 split into 2 and 3; 3 merged with 1 into 4; listed
        // children first, as no listing promises an order.
        let listed = [
            shard("s4", &["s3", "s1"]),
            shard("s2", &["s0"]),
            shard("s3", &["s0"]),
            shard("s0", &[]),
            shard("s1", &[]),
        ];
        let mut replicas = BTreeMap::new();
        assign_replicas(&listed, &mut replicas, 8);
        let root = Replica::owner_of("s0", 8);
        for child in ["s0", "s2", "s3", "s4"] {
            assert_eq!(replicas[child], root, "{child}: {replicas:?}");
        }
        assert_eq!(replicas["s1"], Replica::owner_of("s1", 8));
    }

    #[test]
    fn a_recorded_replica_outlives_its_shard_in_the_listing() {
        // s0 went to replica 1 earlier and has since left the listing (retention).
        let mut replicas = BTreeMap::from([("s0".to_string(), 1)]);
        assign_replicas(&[shard("s5", &["s0"]), shard("s6", &["gone"])], &mut replicas, 4);
        assert_eq!(replicas["s5"], 1);
        assert_eq!(replicas["s6"], Replica::owner_of("s6", 4));
        // Recorded replicas never move, whatever a later listing says.
        assign_replicas(&[shard("s5", &[])], &mut replicas, 4);
        assert_eq!(replicas["s5"], 1);
    }
}

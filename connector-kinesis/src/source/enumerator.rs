//! Finds the stream's shards (`ListShards`, again every discovery interval) and
//! assigns each to a reader once the shards it was split or merged from are read to
//! their end (readers report finished splits), so that records of one partition key
//! are read in order across resharding. A child goes to the reader of its first
//! parent, other shards by their number modulo the parallelism.
//!
//! With more than one replica each shard belongs to one replica by lineage (see
//! [`super::lineage`]); a merged shard whose other parent belongs to another replica
//! waits until that replica posts the parent on the finished-shards board.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use connector_base::aws;
use serde::{Deserialize, Serialize};
use stream_core::api::{EnumeratorContext, SplitEnumerator};
use stream_core::{Replica, Result, StreamError};

use super::lineage::{self, BoardSync};
use super::split::{ShardPosition, ShardSplit};
use crate::config::{KinesisStreamsSource, StartingPosition};
use crate::stream::KINESIS_STREAM;

/// How long one `ListShards` page may take: discovery runs in the checkpoint
/// coordinator, which a hung call would hold up.
const LIST_TIMEOUT: Duration = Duration::from_secs(30);

/// Checkpointed state of the enumerator.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct KinesisEnumeratorState {
    /// Every shard id ever found (a shard is made a split once).
    pub known: BTreeSet<String>,
    /// Shards read to their end.
    pub finished: BTreeSet<String>,
    /// Splits not yet assigned (waiting for parents, or handed back).
    pub pending: Vec<ShardSplit>,
    /// The reader each assigned shard went to (children follow their parent).
    pub owners: BTreeMap<String, usize>,
    /// The replica each known shard belongs to (all 0 with one replica).
    #[serde(default)]
    pub replicas: BTreeMap<String, usize>,
    /// Shards this replica read to their end that are not on the finished-shards
    /// board yet (with more than one replica).
    #[serde(default)]
    pub unposted: BTreeSet<String>,
}

/// The enumerator.
#[derive(Debug)]
pub struct KinesisEnumerator {
    client: aws_sdk_kinesis::Client,
    source: KinesisStreamsSource,
    state: KinesisEnumeratorState,
    /// Where shards found by the first discovery of a fresh job start.
    initial: Option<StartingPosition>,
    /// `Latest` is fixed as this time, so that a restart does not skip records.
    started_at_ms: i64,
    /// When the stream was created: with its name, it scopes the board.
    created_ms: i64,
    /// This replica (known once the enumerator starts).
    replica: Replica,
    /// With more than one replica: the board and what is left to post.
    board: Option<BoardSync>,
}

/// A shard as `ListShards` describes it.
pub(crate) struct Listed {
    pub(crate) id: String,
    /// The parent (`ParentShardId`) first, then the adjacent parent of a merge.
    pub(crate) parents: Vec<String>,
}

impl KinesisEnumerator {
    pub(crate) fn new(source: KinesisStreamsSource, restored: Option<KinesisEnumeratorState>, created_ms: i64) -> Self {
        let client = aws_sdk_kinesis::Client::new(&source.sdk);
        let started_at_ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
        let initial = if restored.is_some() { None } else { Some(source.start.clone()) };
        let state = restored.unwrap_or_default();
        KinesisEnumerator {
            client,
            source,
            state,
            initial,
            started_at_ms,
            created_ms,
            replica: Replica::SINGLE,
            board: None,
        }
    }

    /// Learn the replica; with more than one, the board must be there.
    fn join_replicas(&mut self, replica: Replica) -> Result<()> {
        self.replica = replica;
        if replica.count() == 1 {
            return Ok(());
        }
        let Some(board) = &self.source.finished_shards_board else {
            return Err(StreamError::permanent(StreamError::invalid(
                "finished_shards_board",
                "none",
                format!(
                    "the Kinesis source of `{}` runs as {replica}: give every replica the same board \
                     (KinesisStreamsSourceBuilder::finished_shards_board) so that a shard merged from shards \
                     of two replicas is read after both, or run the job as one replica",
                    self.source.stream
                ),
            )));
        };
        let scope = format!("{}@{}", self.source.stream, self.created_ms);
        // What a restored checkpoint holds as unposted was finished before it completed.
        self.board = Some(BoardSync::new(board.scoped(&scope), self.state.unposted.clone()));
        Ok(())
    }

    /// Post what can be posted, and learn which parents other replicas finished.
    async fn sync_board(&mut self) {
        if let Some(board) = &mut self.board {
            board.sync(&mut self.state, self.replica.index()).await;
        }
    }

    async fn list_shards(&self) -> Result<Vec<Listed>> {
        let mut shards = Vec::new();
        let mut next_token: Option<String> = None;
        loop {
            // With a token, ListShards refuses the stream name.
            let call = match &next_token {
                Some(token) => self.client.list_shards().next_token(token),
                None => self.client.list_shards().stream_name(&self.source.stream),
            };
            let page = aws::call_within(LIST_TIMEOUT, call.send()).await.map_err(|message| {
                aws::unusable(KINESIS_STREAM, &self.source.stream, &self.source.sdk, format!("ListShards: {message}"))
            })?;
            for shard in page.shards() {
                let parents = [shard.parent_shard_id(), shard.adjacent_parent_shard_id()];
                let parents = parents.into_iter().flatten().map(str::to_string).collect();
                shards.push(Listed { id: shard.shard_id().to_string(), parents });
            }
            match page.next_token() {
                Some(token) if !token.is_empty() => next_token = Some(token.to_string()),
                _ => return Ok(shards),
            }
        }
    }

    fn position_for(&self, shard: &str) -> ShardPosition {
        match &self.initial {
            None | Some(StartingPosition::TrimHorizon) => ShardPosition::TrimHorizon,
            Some(StartingPosition::Latest) => ShardPosition::AtTimestamp(self.started_at_ms),
            Some(StartingPosition::AtTimestamp(t)) => {
                ShardPosition::AtTimestamp(t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64))
            }
            Some(StartingPosition::AtSequenceNumbers(map)) => match map.get(shard) {
                Some(seq) => ShardPosition::AtSequenceNumber(seq.clone()),
                None => ShardPosition::TrimHorizon,
            },
        }
    }

    /// Make splits of the shards not seen before.
    async fn find_new_shards(&mut self) -> Result<()> {
        let listed = self.list_shards().await?;
        let listed_ids: BTreeSet<&str> = listed.iter().map(|s| s.id.as_str()).collect();
        lineage::assign_replicas(&listed, &mut self.state.replicas, self.replica.count());
        let mut found = 0;
        for shard in &listed {
            if self.state.known.contains(&shard.id) || self.state.replicas.get(&shard.id) != Some(&self.replica.index())
            {
                continue;
            }
            // A parent no longer listed (past retention) and never read cannot be waited for.
            let parents = shard
                .parents
                .iter()
                .filter(|p| listed_ids.contains(p.as_str()) || self.state.known.contains(*p))
                .cloned()
                .collect();
            let split = ShardSplit { shard_id: shard.id.clone(), parents, position: self.position_for(&shard.id) };
            self.state.pending.push(split);
            found += 1;
        }
        for shard in listed {
            self.state.known.insert(shard.id);
        }
        if found > 0 {
            tracing::info!(stream = %self.source.stream, found, "found new shards");
        }
        // Later shards (born by resharding) start at their beginning.
        self.initial = None;
        Ok(())
    }

    fn owner_of(&self, split: &ShardSplit, parallelism: usize) -> usize {
        let parent_owner = split.parents.iter().find_map(|p| self.state.owners.get(p));
        let owner = match parent_owner {
            Some(owner) => *owner,
            None => shard_number(&split.shard_id),
        };
        owner % parallelism.max(1)
    }

    /// Assign every pending split whose parents are finished.
    fn assign_ready(&mut self, ctx: &mut EnumeratorContext<ShardSplit>) {
        let parallelism = ctx.parallelism();
        let (ready, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut self.state.pending)
            .into_iter()
            .partition(|s| s.parents.iter().all(|p| self.state.finished.contains(p)));
        self.state.pending = waiting;
        for split in ready {
            let owner = self.owner_of(&split, parallelism);
            tracing::debug!(shard = %split.shard_id, reader = owner, "assigning shard");
            self.state.owners.insert(split.shard_id.clone(), owner);
            ctx.assign_split(owner, split);
        }
    }
}

/// The number in `shardId-000000000007`, or a hash of the id.
fn shard_number(shard_id: &str) -> usize {
    let digits: String = shard_id.chars().rev().take_while(char::is_ascii_digit).collect();
    let digits: String = digits.chars().rev().collect();
    digits.parse().unwrap_or_else(|_| shard_id.bytes().fold(0usize, |h, b| h.wrapping_mul(31).wrapping_add(b as usize)))
}

impl SplitEnumerator for KinesisEnumerator {
    type Split = ShardSplit;
    type State = KinesisEnumeratorState;

    async fn start(&mut self, ctx: &mut EnumeratorContext<ShardSplit>) -> Result<()> {
        self.join_replicas(ctx.replica())?;
        self.find_new_shards().await?;
        self.sync_board().await;
        self.assign_ready(ctx);
        Ok(())
    }

    async fn handle_split_request(&mut self, _subtask: usize, ctx: &mut EnumeratorContext<ShardSplit>) -> Result<()> {
        self.assign_ready(ctx);
        Ok(())
    }

    async fn handle_splits_finished(
        &mut self,
        subtask: usize,
        split_ids: Vec<String>,
        ctx: &mut EnumeratorContext<ShardSplit>,
    ) -> Result<()> {
        tracing::info!(stream = %self.source.stream, reader = subtask, shards = ?split_ids, "shards read to their end");
        if self.board.is_some() {
            self.state.unposted.extend(split_ids.iter().cloned());
        }
        self.state.finished.extend(split_ids);
        self.sync_board().await;
        self.assign_ready(ctx);
        Ok(())
    }

    fn add_splits_back(&mut self, splits: Vec<ShardSplit>, _subtask: usize) {
        for split in &splits {
            self.state.owners.remove(&split.shard_id);
        }
        self.state.pending.extend(splits);
    }

    fn discovery_interval(&self) -> Option<Duration> {
        Some(self.source.discovery_interval)
    }

    /// A failed listing is logged and tried again at the next interval: reading the
    /// known shards goes on.
    async fn discover(&mut self, ctx: &mut EnumeratorContext<ShardSplit>) -> Result<()> {
        if let Err(e) = self.find_new_shards().await {
            tracing::warn!(stream = %self.source.stream, error = %e, "shard discovery failed; trying again later");
        }
        self.sync_board().await;
        self.assign_ready(ctx);
        Ok(())
    }

    fn snapshot_state(&mut self, checkpoint_id: u64) -> Result<KinesisEnumeratorState> {
        if let Some(board) = &mut self.board {
            board.snapshotted(checkpoint_id, &self.state.unposted);
        }
        Ok(self.state.clone())
    }

    fn notify_checkpoint_complete(&mut self, checkpoint_id: u64) {
        if let Some(board) = &mut self.board {
            board.completed(checkpoint_id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_numbers_spread_shards_over_readers() {
        assert_eq!(shard_number("shardId-000000000007"), 7);
        assert_eq!(shard_number("shardId-000000000010") % 4, 2);
        assert_eq!(shard_number("odd"), shard_number("odd"));
    }
}

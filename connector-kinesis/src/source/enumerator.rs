//! Finds the stream's shards (`ListShards`, again every discovery interval) and
//! assigns each to a reader once the shards it was split or merged from are read to
//! their end (readers report finished splits), so that records of one partition key
//! are read in order across resharding. A child goes to the reader of its first
//! parent, other shards by their number modulo the parallelism.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use connector_base::aws;
use serde::{Deserialize, Serialize};
use stream_core::Result;
use stream_core::api::{EnumeratorContext, SplitEnumerator};

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
}

/// A shard as `ListShards` describes it.
struct Listed {
    id: String,
    parents: Vec<String>,
}

impl KinesisEnumerator {
    pub(crate) fn new(source: KinesisStreamsSource, restored: Option<KinesisEnumeratorState>) -> Self {
        let client = aws_sdk_kinesis::Client::new(&source.sdk);
        let started_at_ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
        let initial = if restored.is_some() { None } else { Some(source.start.clone()) };
        KinesisEnumerator { client, source, state: restored.unwrap_or_default(), initial, started_at_ms }
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
        let mut found = 0;
        for shard in &listed {
            if self.state.known.contains(&shard.id) {
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
        self.find_new_shards().await?;
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
        self.state.finished.extend(split_ids);
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
        self.assign_ready(ctx);
        Ok(())
    }

    fn snapshot_state(&mut self, _checkpoint_id: u64) -> Result<KinesisEnumeratorState> {
        Ok(self.state.clone())
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

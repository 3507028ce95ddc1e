//! Finds the partitions of the topics (at start, then at an interval if asked) and
//! assigns each to one reader for good (connector-base's `partition_owner`), so that
//! a partition is never read twice.

use std::collections::{BTreeSet, HashSet};
use std::time::Duration;

use connector_base::partition_owner::{assign_owned, partition_owner};
use pulsar::{Pulsar, TokioExecutor};
use serde::{Deserialize, Serialize};
use stream_core::api::{EnumeratorContext, SourceSplit, SplitEnumerator};
use stream_core::retry::Tolerance;
use stream_core::{Replica, Result};

use super::split::{PulsarSplit, Stop};
use crate::client::Retries;
use crate::config::{PulsarSource, StopCursor};
use crate::error::PulsarError;

/// How long one lookup of a topic's partitions may take.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(10);

/// Checkpointed state of the enumerator.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PulsarEnumeratorState {
    known: BTreeSet<String>,
    pending: Vec<PulsarSplit>,
}

/// See the module docs.
pub struct PulsarEnumerator {
    client: Pulsar<TokioExecutor>,
    topics: Vec<String>,
    stop: Option<StopCursor>,
    discovery: Option<Duration>,
    parallelism: usize,
    known: BTreeSet<String>,
    pending: Vec<PulsarSplit>,
    registered: HashSet<usize>,
    /// Periodic discovery fails only after failing for the source's connect timeout.
    discovery_failures: Tolerance,
}

impl PulsarEnumerator {
    pub(crate) async fn new<T>(
        source: &PulsarSource<T>,
        parallelism: usize,
        state: PulsarEnumeratorState,
    ) -> Result<Self> {
        Ok(PulsarEnumerator {
            client: crate::client::connect(&source.url, source.connect_timeout, Retries::Client).await?,
            topics: source.topics.clone(),
            stop: source.stop,
            discovery: source.discovery,
            parallelism: parallelism.max(1),
            known: state.known,
            pending: state.pending,
            registered: HashSet::new(),
            discovery_failures: Tolerance::new(source.connect_timeout),
        })
    }

    /// The partitions of the topics not known yet, as splits.
    async fn find(&self) -> Result<Vec<PulsarSplit>> {
        let mut found = Vec::new();
        for topic in &self.topics {
            let lookup = tokio::time::timeout(LOOKUP_TIMEOUT, self.client.lookup_partitioned_topic(topic.as_str()));
            let partitions = match lookup.await {
                Ok(Ok(partitions)) => partitions,
                Ok(Err(source)) => return Err(PulsarError::Lookup { topic: topic.clone(), source }.into()),
                Err(_) => {
                    let source = pulsar::Error::Custom(format!("no answer within {LOOKUP_TIMEOUT:?}"));
                    return Err(PulsarError::Lookup { topic: topic.clone(), source }.into());
                }
            };
            for (name, _broker) in partitions {
                if self.known.contains(&name) {
                    continue;
                }
                let partition = name.rsplit_once("-partition-").and_then(|(_, i)| i.parse().ok()).unwrap_or(-1);
                found.push(PulsarSplit {
                    topic: name,
                    partition,
                    parent: topic.clone(),
                    position: None,
                    stop: self.stop.map(|_| Stop::Latest),
                    stop_time: match self.stop {
                        Some(StopCursor::PublishTime(at)) => Some(at),
                        _ => None,
                    },
                });
            }
        }
        Ok(found)
    }

    /// Take the partitions found that `replica` owns and that are new.
    fn apply(&mut self, splits: Vec<PulsarSplit>, replica: Replica) {
        let new: Vec<PulsarSplit> =
            splits.into_iter().filter(|s| replica.owns(&s.split_id()) && self.known.insert(s.topic.clone())).collect();
        if !new.is_empty() {
            tracing::info!(count = new.len(), "pulsar partitions discovered");
        }
        self.pending.extend(new);
    }

    fn assign_owned(&mut self, subtask: usize, ctx: &mut EnumeratorContext<PulsarSplit>) -> bool {
        let parallelism = self.parallelism;
        assign_owned(&mut self.pending, subtask, ctx, |s| partition_owner(&s.parent, s.partition, parallelism))
    }
}

impl SplitEnumerator for PulsarEnumerator {
    type Split = PulsarSplit;
    type State = PulsarEnumeratorState;

    async fn start(&mut self, ctx: &mut EnumeratorContext<PulsarSplit>) -> Result<()> {
        if self.known.is_empty() {
            let found = self.find().await?;
            self.apply(found, ctx.replica());
        }
        Ok(())
    }

    async fn handle_split_request(&mut self, subtask: usize, ctx: &mut EnumeratorContext<PulsarSplit>) -> Result<()> {
        self.registered.insert(subtask);
        let assigned = self.assign_owned(subtask, ctx);
        if !assigned && self.stop.is_some() {
            ctx.signal_no_more_splits(subtask);
        }
        Ok(())
    }

    fn add_splits_back(&mut self, splits: Vec<PulsarSplit>, _subtask: usize) {
        self.pending.extend(splits);
    }

    fn discovery_interval(&self) -> Option<Duration> {
        if self.stop.is_some() { None } else { self.discovery }
    }

    async fn discover(&mut self, ctx: &mut EnumeratorContext<PulsarSplit>) -> Result<()> {
        let found = self.find().await;
        let Some(found) = self.discovery_failures.check("pulsar partition discovery", found)? else {
            return Ok(());
        };
        self.apply(found, ctx.replica());
        let registered: Vec<usize> = self.registered.iter().copied().collect();
        for subtask in registered {
            self.assign_owned(subtask, ctx);
        }
        Ok(())
    }

    fn snapshot_state(&mut self, _checkpoint_id: u64) -> Result<PulsarEnumeratorState> {
        Ok(PulsarEnumeratorState { known: self.known.clone(), pending: self.pending.clone() })
    }
}

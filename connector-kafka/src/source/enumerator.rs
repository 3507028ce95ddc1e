//! Discovers topic-partitions (once, or at an interval), resolves their start and
//! stop offsets, and assigns each partition to one reader for good: subtask =
//! hash(topic, partition) mod parallelism, so a partition is never read twice.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use connector_base::partition_owner::{assign_owned, partition_owner};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Offset, TopicPartitionList};
use serde::{Deserialize, Serialize};
use stream_core::api::{EnumeratorContext, SourceSplit, SplitEnumerator};
use stream_core::retry::Tolerance;
use stream_core::{Replica, Result, StreamError};
use tokio::task::JoinHandle;

use super::split::KafkaSplit;
use crate::client::DropInBackground;
use crate::config::{KafkaSource, Topics};
use crate::error::KafkaError;
use crate::logging::Logged;
use crate::offsets::{OffsetReset, StartingOffsets, StoppingOffsets};

const TIMEOUT: Duration = Duration::from_secs(10);

/// Checkpointed state of the enumerator.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct KafkaEnumeratorState {
    known: BTreeSet<(String, i32)>,
    pending: Vec<KafkaSplit>,
    started: bool,
}

/// See the module docs.
pub struct KafkaEnumerator {
    admin: Arc<BaseConsumer<Logged>>,
    topics: Topics,
    starting: StartingOffsets,
    stopping: Option<StoppingOffsets>,
    discovery: Option<Duration>,
    parallelism: usize,
    known: BTreeSet<(String, i32)>,
    pending: Vec<KafkaSplit>,
    started: bool,
    registered: BTreeSet<usize>,
    /// Periodic discovery fails only after failing for the source's
    /// `reconnect_timeout`: a broker outage is waited out as the readers do.
    discovery_failures: Tolerance,
    /// A periodic discovery in flight.
    discovering: Option<JoinHandle<Result<Vec<KafkaSplit>>>>,
}

impl KafkaEnumerator {
    pub(crate) fn new<T>(source: &KafkaSource<T>, parallelism: usize, state: KafkaEnumeratorState) -> Result<Self> {
        let mut fixed = vec![("enable.auto.commit", "false")];
        if let Some(group) = &source.group_id {
            fixed.push(("group.id", group.as_str()));
        }
        let admin: BaseConsumer<Logged> = source
            .client
            .config(&fixed)
            .create_with_context(Logged::default())
            .map_err(|e| KafkaError::client("create metadata client", e))?;
        Ok(KafkaEnumerator {
            admin: Arc::new(admin),
            topics: source.topics.clone().unwrap_or(Topics::List(Vec::new())),
            starting: source.starting.clone(),
            stopping: source.stopping.clone(),
            discovery: source.discovery,
            parallelism: parallelism.max(1),
            discovery_failures: Tolerance::new(source.reconnect_timeout),
            discovering: None,
            known: state.known,
            pending: state.pending,
            started: state.started,
            registered: BTreeSet::new(),
        })
    }

    /// Partitions of matching topics not seen before, with resolved offsets, found
    /// on a blocking thread (metadata and offset requests wait for the brokers).
    fn spawn_discovery(&self) -> JoinHandle<Result<Vec<KafkaSplit>>> {
        // Destroyed off the blocking pool if it outlives the enumerator (see the reader).
        let admin = DropInBackground::new(self.admin.clone());
        let (topics, known) = (self.topics.clone(), self.known.clone());
        let initial = !self.started;
        let (starting, stopping) = (self.starting.clone(), self.stopping.clone());
        tokio::task::spawn_blocking(move || -> Result<Vec<KafkaSplit>> {
            let metadata = admin.fetch_metadata(None, TIMEOUT).map_err(|e| {
                // librdkafka's reports (why the connection failed) are queued:
                // serve them before naming the last one.
                let _ = admin.poll(Duration::ZERO);
                KafkaError::client_reported("fetch metadata", e, admin.context().last_report())
            })?;
            let mut found = Vec::new();
            for topic in metadata.topics() {
                if !topics.matches(topic.name()) || topic.error().is_some() {
                    continue;
                }
                for p in topic.partitions() {
                    if !known.contains(&(topic.name().to_string(), p.id())) {
                        found.push((topic.name().to_string(), p.id()));
                    }
                }
            }
            if initial && let Topics::List(list) = &topics {
                for name in list {
                    if !metadata.topics().iter().any(|t| t.name() == name && t.error().is_none()) {
                        return Err(StreamError::permanent(KafkaError::UnknownTopic(name.clone())));
                    }
                }
            }
            let start = if initial { starting } else { StartingOffsets::Earliest };
            resolve(&admin, found, &start, stopping.as_ref())
        })
    }

    /// Take the splits of a discovery: those not known yet become pending.
    /// Take the partitions discovered that `replica` owns and that are new.
    fn apply(&mut self, splits: Vec<KafkaSplit>, replica: Replica) {
        self.started = true;
        let new: Vec<KafkaSplit> = splits
            .into_iter()
            .filter(|s| replica.owns(&s.split_id()) && self.known.insert((s.topic.clone(), s.partition)))
            .collect();
        if !new.is_empty() {
            tracing::info!(count = new.len(), "kafka partitions discovered");
        }
        self.pending.extend(new);
    }

    fn assign_owned(&mut self, subtask: usize, ctx: &mut EnumeratorContext<KafkaSplit>) -> bool {
        let parallelism = self.parallelism;
        assign_owned(&mut self.pending, subtask, ctx, |s| partition_owner(&s.topic, s.partition, parallelism))
    }
}

/// Start and stop offsets of `partitions` (one batch of lookups).
fn resolve(
    admin: &BaseConsumer<Logged>,
    partitions: Vec<(String, i32)>,
    starting: &StartingOffsets,
    stopping: Option<&StoppingOffsets>,
) -> Result<Vec<KafkaSplit>> {
    let watermarks =
        |t: &str, p: i32| admin.fetch_watermarks(t, p, TIMEOUT).map_err(|e| KafkaError::client("fetch watermarks", e));
    let by_time = |ts: i64| -> Result<BTreeMap<(String, i32), i64>> {
        let mut list = TopicPartitionList::new();
        for (t, p) in &partitions {
            list.add_partition_offset(t, *p, Offset::Offset(ts))
                .map_err(|e| KafkaError::client("offsets for times", e))?;
        }
        let found = admin.offsets_for_times(list, TIMEOUT).map_err(|e| KafkaError::client("offsets for times", e))?;
        Ok(found
            .elements()
            .iter()
            .filter_map(|e| e.offset().to_raw().map(|o| ((e.topic().to_string(), e.partition()), o)))
            .collect())
    };
    let committed = || -> Result<BTreeMap<(String, i32), i64>> {
        let mut list = TopicPartitionList::new();
        for (t, p) in &partitions {
            list.add_partition(t, *p);
        }
        let found = admin.committed_offsets(list, TIMEOUT).map_err(|e| KafkaError::client("committed offsets", e))?;
        Ok(found
            .elements()
            .iter()
            .filter_map(|e| match e.offset() {
                Offset::Offset(o) => Some(((e.topic().to_string(), e.partition()), o)),
                _ => None,
            })
            .collect())
    };
    let start_times = match starting {
        StartingOffsets::Timestamp(ts) => by_time(*ts)?,
        StartingOffsets::Committed { .. } => committed()?,
        _ => BTreeMap::new(),
    };
    let stop_times = match stopping {
        Some(StoppingOffsets::Timestamp(ts)) => by_time(*ts)?,
        _ => BTreeMap::new(),
    };
    let mut splits = Vec::with_capacity(partitions.len());
    for (topic, partition) in partitions {
        let (low, high) = watermarks(&topic, partition)?;
        let key = (topic.clone(), partition);
        let offset = match starting {
            StartingOffsets::Earliest => low,
            StartingOffsets::Latest => high,
            StartingOffsets::Timestamp(_) => start_times.get(&key).copied().filter(|o| *o >= 0).unwrap_or(high),
            StartingOffsets::Committed { reset } => start_times.get(&key).copied().unwrap_or(match reset {
                OffsetReset::Earliest => low,
                OffsetReset::Latest => high,
            }),
            StartingOffsets::Specific(map) => map.get(&key).copied().unwrap_or(low),
        };
        let stop = stopping.map(|s| match s {
            StoppingOffsets::Latest => high,
            StoppingOffsets::Timestamp(_) => stop_times.get(&key).copied().filter(|o| *o >= 0).unwrap_or(high),
            StoppingOffsets::Specific(map) => map.get(&key).copied().unwrap_or(high),
        });
        tracing::debug!(%topic, partition, low, high, offset, ?stop, "kafka partition resolved");
        splits.push(KafkaSplit { topic, partition, offset: offset.clamp(low, high), stop });
    }
    Ok(splits)
}

impl SplitEnumerator for KafkaEnumerator {
    type Split = KafkaSplit;
    type State = KafkaEnumeratorState;

    async fn start(&mut self, ctx: &mut EnumeratorContext<KafkaSplit>) -> Result<()> {
        if !self.started {
            let found = self.spawn_discovery().await.map_err(|e| StreamError::join_failed("kafka metadata", e))??;
            self.apply(found, ctx.replica());
        }
        Ok(())
    }

    async fn handle_split_request(&mut self, subtask: usize, ctx: &mut EnumeratorContext<KafkaSplit>) -> Result<()> {
        self.registered.insert(subtask);
        let assigned = self.assign_owned(subtask, ctx);
        if !assigned && self.stopping.is_some() {
            ctx.signal_no_more_splits(subtask);
        }
        Ok(())
    }

    fn add_splits_back(&mut self, splits: Vec<KafkaSplit>, _subtask: usize) {
        self.pending.extend(splits);
    }

    fn discovery_interval(&self) -> Option<Duration> {
        self.discovery
    }

    /// Periodic discovery runs in the background, as in Flink: one interval starts
    /// it, a later one takes its result, so that the coordinator never waits for a
    /// broker (a stalled broker held it for the metadata timeout, task failures
    /// included).
    async fn discover(&mut self, ctx: &mut EnumeratorContext<KafkaSplit>) -> Result<()> {
        let task = match self.discovering.take() {
            None => {
                self.discovering = Some(self.spawn_discovery());
                return Ok(());
            }
            Some(task) if !task.is_finished() => {
                self.discovering = Some(task);
                return Ok(());
            }
            Some(task) => task,
        };
        let discovered = task.await.map_err(|e| StreamError::join_failed("kafka metadata", e))?;
        let Some(found) = self.discovery_failures.check("kafka partition discovery", discovered)? else {
            return Ok(());
        };
        self.apply(found, ctx.replica());
        let registered: Vec<usize> = self.registered.iter().copied().collect();
        for subtask in registered {
            self.assign_owned(subtask, ctx);
        }
        Ok(())
    }

    fn snapshot_state(&mut self, _checkpoint_id: u64) -> Result<KafkaEnumeratorState> {
        Ok(KafkaEnumeratorState { known: self.known.clone(), pending: self.pending.clone(), started: self.started })
    }
}

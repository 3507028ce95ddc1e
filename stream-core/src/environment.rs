//! The execution environment: job-wide settings and the entry point of a job.

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

use crate::api::Source;
use crate::checkpoint_config::CheckpointConfig;
use crate::env_config::EnvConfig;
use crate::error::{Result, StreamError};
use crate::fault::FaultInjector;
use crate::graph::SourceNode;
use crate::metrics::JobMetrics;
use crate::replica::Replica;
use crate::rescale::{KeyGroups, OldReplica, Rescale};
use crate::restart::RestartStrategy;
use crate::stage::StageInfo;
use crate::state::{MemoryStateBackend, StateBackend};
use crate::stream::DataStream;

/// Where jobs are defined and run. Cheap to clone.
///
/// ```
/// use std::time::Duration;
/// use stream_core::prelude::*;
///
/// # #[tokio::main] async fn main() -> stream_core::Result<()> {
/// let env = StreamEnvironment::builder()
///     .checkpointing(CheckpointConfig::builder().interval(Duration::from_millis(50)).build()?)
///     .parallelism(2)
///     .build()?;
/// let sink = CollectSink::new();
/// env.from_source(CollectionSource::new((1..=100u64).collect()), "numbers")
///     .map(|x| x * 2)
///     .key_by(|x| x % 3)
///     .process("sum", process_fn(|_key: &u64, sum: &mut u64, x: u64, out: &mut Collector<u64>| {
///         *sum += x;
///         out.collect(*sum);
///         Ok(())
///     }))
///     .sink_to(sink.clone(), "collect")
///     .execute("example")
///     .await?;
/// assert_eq!(sink.committed().len(), 100);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct StreamEnvironment {
    pub(crate) config: Arc<EnvConfig>,
}

impl StreamEnvironment {
    /// Start configuring an environment.
    pub fn builder() -> StreamEnvironmentBuilder {
        StreamEnvironmentBuilder {
            checkpoint: CheckpointConfig::default(),
            backend: None,
            restart: RestartStrategy::None,
            parallelism: 1,
            batch_size: 1024,
            channel_capacity: 8,
            faults: FaultInjector::new(),
            allow_non_restored_state: false,
            resume_from: None,
            rescale_from: None,
            replica: None,
        }
    }

    /// Start a job at `source`. The stage is called `name` (used in metrics, logs,
    /// fault injection); its parallelism is the environment's default. A job may
    /// read any number of sources (combine their streams with
    /// [`DataStream::union`] or [`DataStream::connect`]); it ends when every bounded
    /// one has ended and none is unbounded.
    pub fn from_source<S: Source>(&self, source: S, name: &str) -> DataStream<S::Output> {
        let stage = StageInfo {
            seq: self.config.next_seq(),
            source: true,
            ..StageInfo::new(format!("0-{name}"), name, self.config.parallelism, true)
        };
        let node = Arc::new(SourceNode { source: Arc::new(source), stage: stage.clone() });
        DataStream::new(self.config.clone(), node, vec![stage])
    }

    /// Live metrics of the jobs run by this environment.
    pub fn metrics(&self) -> JobMetrics {
        self.config.metrics.clone()
    }

    /// The fault injector tasks consult (tests plant faults in it).
    pub fn faults(&self) -> FaultInjector {
        self.config.faults.clone()
    }
}

/// Builder of [`StreamEnvironment`]; [`StreamEnvironmentBuilder::build`] validates.
pub struct StreamEnvironmentBuilder {
    checkpoint: CheckpointConfig,
    backend: Option<Arc<dyn StateBackend>>,
    restart: RestartStrategy,
    parallelism: usize,
    batch_size: usize,
    channel_capacity: usize,
    faults: FaultInjector,
    allow_non_restored_state: bool,
    resume_from: Option<std::path::PathBuf>,
    rescale_from: Option<Rescale>,
    replica: Option<Replica>,
}

impl StreamEnvironmentBuilder {
    /// Checkpoint settings (default: only the final checkpoint at end of input).
    pub fn checkpointing(mut self, config: CheckpointConfig) -> Self {
        self.checkpoint = config;
        self
    }

    /// Where checkpoints go (default: in memory).
    pub fn state_backend(mut self, backend: impl StateBackend) -> Self {
        self.backend = Some(Arc::new(backend));
        self
    }

    /// What to do when a task fails (default: fail the job).
    pub fn restart_strategy(mut self, strategy: RestartStrategy) -> Self {
        self.restart = strategy;
        self
    }

    /// Default parallelism of every stage (default 1).
    pub fn parallelism(mut self, parallelism: usize) -> Self {
        self.parallelism = parallelism;
        self
    }

    /// Records per batch on the channels (default 1024).
    pub fn batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size;
        self
    }

    /// Batches buffered per channel before the sender waits (default 8).
    pub fn channel_capacity(mut self, capacity: usize) -> Self {
        self.channel_capacity = capacity;
        self
    }

    /// Let a restore drop the state of operators the job no longer has (Flink's
    /// `--allowNonRestoredState`); by default such state fails the restore, naming
    /// its uid. See [`DataStream::uid`](crate::DataStream::uid).
    pub fn allow_non_restored_state(mut self, allow: bool) -> Self {
        self.allow_non_restored_state = allow;
        self
    }

    /// Start jobs from the savepoint in `dir` (written by
    /// [`JobHandle::stop_with_savepoint`](crate::JobHandle::stop_with_savepoint)),
    /// unless the state backend holds a newer checkpoint (a restart after the job
    /// checkpointed). A missing or empty directory fails the job at start, naming it.
    pub fn resume_from(mut self, dir: impl Into<std::path::PathBuf>) -> Self {
        self.resume_from = Some(dir.into());
        self
    }

    /// Start jobs from the last state of every replica of another replica count (each
    /// old replica stopped with
    /// [`JobHandle::stop_with_savepoint`](crate::JobHandle::stop_with_savepoint); give
    /// its savepoint directory or its checkpoint storage, see [`OldReplica`]), unless
    /// the state backend holds a newer checkpoint (a restart after the rescaled job
    /// checkpointed). Keyed state is kept for the keys in `keys` (the keys this
    /// replica's input now carries); sources start from their starting position (give
    /// a Kafka source `StartingOffsets::Committed`, the offsets the savepoints
    /// committed) and sinks with nothing restored (a stopped job commits its
    /// savepoint before it ends). The state backend must be new to the job: a
    /// location holding an old replica's checkpoints fails the start, naming it.
    /// See the [`rescale`](crate::rescale) module.
    pub fn rescale_from(mut self, old: impl IntoIterator<Item = OldReplica>, keys: KeyGroups) -> Self {
        self.rescale_from = Some(Rescale { old: old.into_iter().collect(), keys });
        self
    }

    /// Which of the job's replicas this process is (see [`Replica`]); sources read
    /// only the splits it owns. Default: [`Replica::from_env`], which is
    /// [`Replica::SINGLE`] unless `REPLICA_COUNT` is set.
    pub fn replica(mut self, replica: Replica) -> Self {
        self.replica = Some(replica);
        self
    }

    /// Share a fault injector with the job (tests).
    pub fn fault_injector(mut self, faults: FaultInjector) -> Self {
        self.faults = faults;
        self
    }

    /// Validate and build.
    pub fn build(self) -> Result<StreamEnvironment> {
        if self.parallelism == 0 {
            return Err(StreamError::invalid("parallelism", 0, "the default parallelism must be at least 1"));
        }
        if self.batch_size == 0 {
            return Err(StreamError::invalid("batch_size", 0, "a batch must hold at least one record"));
        }
        if self.channel_capacity == 0 {
            return Err(StreamError::invalid("channel_capacity", 0, "a channel must hold at least one batch"));
        }
        self.restart.validate()?;
        if let Some(rescale) = &self.rescale_from {
            if rescale.old.is_empty() {
                return Err(StreamError::invalid("rescale_from", "[]", "give the last state of every old replica"));
            }
            if let Some(dir) = &self.resume_from {
                return Err(StreamError::invalid(
                    "resume_from",
                    dir.display(),
                    "a job starts from one savepoint (resume_from) or from several (rescale_from), not both",
                ));
            }
        }
        let replica = match self.replica {
            Some(replica) => replica,
            None => Replica::from_env()?,
        };
        Ok(StreamEnvironment {
            config: Arc::new(EnvConfig {
                checkpoint: self.checkpoint,
                backend: self.backend.unwrap_or_else(|| Arc::new(MemoryStateBackend::new())),
                restart: self.restart,
                parallelism: self.parallelism,
                batch_size: self.batch_size,
                channel_capacity: self.channel_capacity,
                faults: self.faults,
                metrics: JobMetrics::default(),
                allow_non_restored_state: self.allow_non_restored_state,
                resume_from: self.resume_from,
                rescale_from: self.rescale_from,
                replica,
                next_seq: AtomicU64::new(1),
                graph_errors: Mutex::new(Vec::new()),
            }),
        })
    }
}

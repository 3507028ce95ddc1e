//! The job-wide settings an environment gives to every stream and job defined in it.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::checkpoint_config::CheckpointConfig;
use crate::fault::FaultInjector;
use crate::metrics::JobMetrics;
use crate::replica::Replica;
use crate::restart::RestartStrategy;
use crate::state::StateBackend;

/// The settings of a [`crate::StreamEnvironment`], shared by what it defines.
pub(crate) struct EnvConfig {
    pub(crate) checkpoint: CheckpointConfig,
    pub(crate) backend: Arc<dyn StateBackend>,
    pub(crate) restart: RestartStrategy,
    pub(crate) parallelism: usize,
    pub(crate) batch_size: usize,
    pub(crate) channel_capacity: usize,
    pub(crate) faults: FaultInjector,
    pub(crate) metrics: JobMetrics,
    /// Whether a restore may drop state no stage takes.
    pub(crate) allow_non_restored_state: bool,
    /// A savepoint directory to start from.
    pub(crate) resume_from: Option<std::path::PathBuf>,
    /// The savepoints of another replica count to start from, and the keys kept.
    pub(crate) rescale_from: Option<crate::rescale::Rescale>,
    /// Which of the job's processes this is.
    pub(crate) replica: Replica,
    /// The next stream's or stage's place in the order of definition (from 1).
    pub(crate) next_seq: AtomicU64,
    /// Mistakes in the graph's definition, reported when a job of it starts.
    pub(crate) graph_errors: Mutex<Vec<String>>,
}

impl EnvConfig {
    /// A new place in the order of definition.
    pub(crate) fn next_seq(&self) -> u64 {
        self.next_seq.fetch_add(1, Ordering::Relaxed)
    }

    /// Remember a mistake in the graph, reported when a job of it starts.
    pub(crate) fn graph_error(&self, message: String) {
        tracing::debug!(%message, "job graph mistake");
        if let Ok(mut errors) = self.graph_errors.lock() {
            errors.push(message);
        }
    }

    pub(crate) fn take_graph_errors(&self) -> Vec<String> {
        self.graph_errors.lock().map(|mut e| std::mem::take(&mut *e)).unwrap_or_default()
    }
}

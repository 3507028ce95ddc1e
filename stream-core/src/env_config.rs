//! The job-wide settings an environment gives to every stream and job defined in it.

use std::sync::Arc;

use crate::checkpoint_config::CheckpointConfig;
use crate::fault::FaultInjector;
use crate::metrics::JobMetrics;
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
}

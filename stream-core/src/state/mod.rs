//! State backends: where completed checkpoints are kept.

mod blob;
mod envelope;
#[cfg(feature = "object-store")]
mod finished_splits;
mod fs;
mod memory;
#[cfg(feature = "object-store")]
mod object;

use std::collections::BTreeMap;
use std::fmt::Debug;

pub use blob::StateBlob;
#[cfg(feature = "object-store")]
pub use finished_splits::FinishedSplitsBoard;
pub use fs::FsStateBackend;
pub use memory::MemoryStateBackend;
#[cfg(feature = "object-store")]
pub use object::{ObjectStoreStateBackend, ObjectStoreStateBackendBuilder};

use crate::error::Result;

/// Everything a completed checkpoint holds: the enumerator's state and the state of
/// every task, keyed by `"<stage>/<subtask>"`.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckpointData {
    /// Checkpoint id (increasing within a job, continued across restores).
    pub id: u64,
    /// Wall-clock time the checkpoint completed, in ms since the Unix epoch.
    pub timestamp_ms: u64,
    /// The source enumerator's state.
    pub enumerator: Option<StateBlob>,
    /// Task states by `"<stage>/<subtask>"`.
    pub tasks: BTreeMap<String, StateBlob>,
}

impl CheckpointData {
    /// States of every subtask of `stage`, in subtask order.
    pub fn stage_states(&self, stage: &str) -> Vec<(usize, &StateBlob)> {
        let prefix = format!("{stage}/");
        let mut states: Vec<(usize, &StateBlob)> = self
            .tasks
            .iter()
            .filter_map(|(key, value)| {
                key.strip_prefix(&prefix).and_then(|s| s.parse::<usize>().ok()).map(|subtask| (subtask, value))
            })
            .collect();
        states.sort_by_key(|(subtask, _)| *subtask);
        states
    }
}

/// Where completed checkpoints are stored. `store` must be atomic: after a crash at
/// any moment, `latest` returns either the new checkpoint or the previous one.
pub trait StateBackend: Debug + Send + Sync + 'static {
    /// Store a completed checkpoint; returns its size in bytes.
    fn store(&self, checkpoint: &CheckpointData) -> Result<u64>;

    /// The newest checkpoint that is complete and intact, if any.
    fn latest(&self) -> Result<Option<CheckpointData>>;

    /// Called once when a job starts, before its first restore. A backend that
    /// several processes may share (a replica and the replacement started while it
    /// still runs) claims the right to write here, so that the older process's next
    /// `store` fails with [`StreamError::Fenced`](crate::StreamError::Fenced).
    /// Default: nothing to claim.
    fn begin(&self) -> Result<()> {
        Ok(())
    }

    /// Whether stored checkpoints outlive the process (a new process of the same job
    /// can restore them). Default: yes; [`MemoryStateBackend`] says no, and a job
    /// with checkpoints in it is warned about at start.
    fn outlives_the_process(&self) -> bool {
        true
    }
}

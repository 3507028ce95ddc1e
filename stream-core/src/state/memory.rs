//! In-memory state backend: survives restarts within one process, not a process crash.

use std::collections::VecDeque;
use std::sync::Mutex;

use super::{CheckpointData, StateBackend, envelope};
use crate::error::{Result, StreamError};

/// Keeps the last `retained` checkpoints in memory (encoded, so sizes are real).
#[derive(Debug)]
pub struct MemoryStateBackend {
    retained: usize,
    checkpoints: Mutex<VecDeque<Vec<u8>>>,
}

impl Default for MemoryStateBackend {
    fn default() -> Self {
        MemoryStateBackend { retained: 2, checkpoints: Mutex::new(VecDeque::new()) }
    }
}

impl MemoryStateBackend {
    /// A backend keeping the last two checkpoints.
    pub fn new() -> Self {
        Self::default()
    }
}

impl StateBackend for MemoryStateBackend {
    fn store(&self, checkpoint: &CheckpointData) -> Result<u64> {
        let bytes = envelope::encode(checkpoint).map_err(|e| StreamError::state("checkpoint", e))?;
        let size = bytes.len() as u64;
        let mut guard = self.checkpoints.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        guard.push_back(bytes);
        while guard.len() > self.retained {
            guard.pop_front();
        }
        Ok(size)
    }

    fn outlives_the_process(&self) -> bool {
        false
    }

    fn latest(&self) -> Result<Option<CheckpointData>> {
        let guard = self.checkpoints.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        match guard.back() {
            None => Ok(None),
            Some(bytes) => envelope::decode(bytes)
                .map(Some)
                .map_err(|reason| StreamError::CorruptCheckpoint { path: "<memory>".into(), reason }),
        }
    }
}

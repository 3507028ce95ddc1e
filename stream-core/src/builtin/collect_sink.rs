//! An in-memory two-phase sink for tests and examples: records become visible in
//! [`CollectSink::committed`] only when the checkpoint that covers them completes,
//! and a committable committed twice is applied once (exactly-once).

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::api::{Committer, Sink, SinkWriter, TaskContext};
use crate::error::Result;

/// Records written by one subtask between two checkpoints.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CollectBatch<T> {
    id: String,
    checkpoint_id: u64,
    records: Vec<T>,
}

#[derive(Debug)]
struct Store<T> {
    committed: Vec<T>,
    applied: HashSet<String>,
    commits: Vec<u64>,
}

/// See the module docs. Clones share the same store.
#[derive(Debug)]
pub struct CollectSink<T> {
    store: Arc<Mutex<Store<T>>>,
}

impl<T> Clone for CollectSink<T> {
    fn clone(&self) -> Self {
        CollectSink { store: self.store.clone() }
    }
}

impl<T> Default for CollectSink<T> {
    fn default() -> Self {
        CollectSink {
            store: Arc::new(Mutex::new(Store { committed: Vec::new(), applied: HashSet::new(), commits: Vec::new() })),
        }
    }
}

impl<T: Clone> CollectSink<T> {
    /// An empty sink.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every committed record, in commit order.
    pub fn committed(&self) -> Vec<T> {
        self.lock().committed.clone()
    }

    /// The checkpoint ids whose committables were applied, in order (ids of
    /// re-commits after a restore that were already applied are not repeated).
    pub fn commit_log(&self) -> Vec<u64> {
        self.lock().commits.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Store<T>> {
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl<T: Clone + Serialize + DeserializeOwned + Send + Sync + 'static> Sink<T> for CollectSink<T> {
    type Committable = CollectBatch<T>;
    type WriterState = ();
    type Writer = CollectWriter<T>;
    type Committer = CollectCommitter<T>;

    fn connector_name(&self) -> &'static str {
        "collect"
    }

    async fn create_writer(&self, ctx: &TaskContext, _restored: Vec<()>) -> Result<CollectWriter<T>> {
        Ok(CollectWriter { prefix: format!("{}-{}", ctx.attempt_id, ctx.subtask), buffer: Vec::new() })
    }

    async fn create_committer(&self, _ctx: &TaskContext) -> Result<CollectCommitter<T>> {
        Ok(CollectCommitter { sink: self.clone() })
    }
}

/// Buffers records until the next pre-commit.
pub struct CollectWriter<T> {
    prefix: String,
    buffer: Vec<T>,
}

impl<T: Serialize + DeserializeOwned + Send + Sync + 'static> SinkWriter<T> for CollectWriter<T> {
    type Committable = CollectBatch<T>;
    type State = ();

    async fn write(&mut self, record: T) -> Result<()> {
        self.buffer.push(record);
        Ok(())
    }

    async fn write_batch(&mut self, records: &mut Vec<T>) -> Result<()> {
        self.buffer.append(records);
        Ok(())
    }

    async fn flush(&mut self, _end_of_input: bool) -> Result<()> {
        Ok(())
    }

    async fn prepare_commit(&mut self, checkpoint_id: u64) -> Result<Vec<CollectBatch<T>>> {
        if self.buffer.is_empty() {
            return Ok(Vec::new());
        }
        let records = std::mem::take(&mut self.buffer);
        Ok(vec![CollectBatch { id: format!("{}-{checkpoint_id}", self.prefix), checkpoint_id, records }])
    }
}

/// Applies each batch once.
pub struct CollectCommitter<T> {
    sink: CollectSink<T>,
}

impl<T: Clone + Serialize + DeserializeOwned + Send + Sync + 'static> Committer for CollectCommitter<T> {
    type Committable = CollectBatch<T>;

    async fn commit(&mut self, committables: &[CollectBatch<T>]) -> Result<()> {
        let mut store = self.sink.lock();
        for batch in committables {
            if store.applied.insert(batch.id.clone()) {
                store.committed.extend(batch.records.iter().cloned());
                store.commits.push(batch.checkpoint_id);
            }
        }
        Ok(())
    }
}

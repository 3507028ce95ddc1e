//! A sink that drops everything (benchmarks) and counts what it saw.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::api::{NoCommitter, Sink, SinkWriter, TaskContext};
use crate::error::Result;

/// Drops records; [`DiscardingSink::count`] tells how many arrived.
#[derive(Debug, Clone, Default)]
pub struct DiscardingSink {
    count: Arc<AtomicU64>,
}

impl DiscardingSink {
    /// A new sink.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records received so far (all attempts).
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }
}

impl<T: Send + 'static> Sink<T> for DiscardingSink {
    type Committable = ();
    type WriterState = ();
    type Writer = DiscardingWriter;
    type Committer = NoCommitter<()>;

    fn connector_name(&self) -> &'static str {
        "discard"
    }

    async fn create_writer(&self, _ctx: &TaskContext, _restored: Vec<()>) -> Result<DiscardingWriter> {
        Ok(DiscardingWriter { local: 0, shared: self.count.clone() })
    }

    async fn create_committer(&self, _ctx: &TaskContext) -> Result<NoCommitter<()>> {
        Ok(NoCommitter::default())
    }
}

/// Counts locally, publishes at flush.
pub struct DiscardingWriter {
    local: u64,
    shared: Arc<AtomicU64>,
}

impl<T: Send + 'static> SinkWriter<T> for DiscardingWriter {
    type Committable = ();
    type State = ();

    #[inline]
    async fn write(&mut self, _record: T) -> Result<()> {
        self.local += 1;
        Ok(())
    }

    async fn write_batch(&mut self, records: &mut Vec<T>) -> Result<()> {
        self.local += records.len() as u64;
        records.clear();
        Ok(())
    }

    async fn flush(&mut self, _end_of_input: bool) -> Result<()> {
        self.shared.fetch_add(std::mem::take(&mut self.local), Ordering::Relaxed);
        Ok(())
    }
}

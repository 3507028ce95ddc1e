//! [`crate::CassandraSink`]: writes in flight awaited at every checkpoint, or (in the
//! write-ahead mode) rows kept in the checkpoint and written once it completes.

mod row_log;
mod write_ahead;
mod writer;
pub(crate) mod writes;

pub use write_ahead::CassandraCommittable;
pub use writer::CassandraWriter;

use scylla::serialize::row::SerializeRow;
use stream_core::Result;
use stream_core::api::{Committer, Sink, TaskContext};

use crate::config::CassandraSink;
use write_ahead::{Progress, WriteAheadCommitter};
use writes::Writes;

/// Commits the write-ahead mode's parts; does nothing for a direct sink.
pub struct CassandraCommitter {
    write_ahead: Option<WriteAheadCommitter>,
}

impl Committer for CassandraCommitter {
    type Committable = CassandraCommittable;

    async fn commit(&mut self, committables: &[CassandraCommittable]) -> Result<()> {
        match &mut self.write_ahead {
            Some(committer) => committer.commit(committables).await,
            None => Ok(()),
        }
    }
}

impl<T: SerializeRow + Send + Sync + 'static> Sink<T> for CassandraSink<T> {
    type Committable = CassandraCommittable;
    type WriterState = ();
    type Writer = CassandraWriter<T>;
    type Committer = CassandraCommitter;

    fn connector_name(&self) -> &'static str {
        "cassandra"
    }

    async fn create_writer(&self, ctx: &TaskContext, _restored: Vec<()>) -> Result<CassandraWriter<T>> {
        CassandraWriter::new(self, ctx).await
    }

    async fn create_committer(&self, ctx: &TaskContext) -> Result<CassandraCommitter> {
        let Some(options) = &self.write_ahead else { return Ok(CassandraCommitter { write_ahead: None }) };
        let writes = self.write_options().await?;
        let restored = ctx.restored_checkpoint;
        let mut progress = Progress::open(writes.session.clone(), options, self.consistency, restored).await?;
        if ctx.restored_checkpoint.is_none() {
            progress.reset(ctx.subtask).await?;
        }
        let write_ahead = WriteAheadCommitter { writes: Writes::new(writes), progress };
        Ok(CassandraCommitter { write_ahead: Some(write_ahead) })
    }
}

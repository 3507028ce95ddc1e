//! [`crate::CassandraSink`]: writes in flight awaited at every checkpoint.

mod writer;

pub use writer::CassandraWriter;

use scylla::serialize::row::SerializeRow;
use stream_core::Result;
use stream_core::api::{NoCommitter, Sink, TaskContext};

use crate::config::CassandraSink;

impl<T: SerializeRow + Send + Sync + 'static> Sink<T> for CassandraSink<T> {
    type Committable = ();
    type WriterState = ();
    type Writer = CassandraWriter<T>;
    type Committer = NoCommitter<()>;

    async fn create_writer(&self, _ctx: &TaskContext, _restored: Vec<()>) -> Result<CassandraWriter<T>> {
        CassandraWriter::new(self).await
    }

    async fn create_committer(&self, _ctx: &TaskContext) -> Result<NoCommitter<()>> {
        Ok(NoCommitter::default())
    }
}

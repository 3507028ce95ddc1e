//! [`crate::PulsarSink`]: every send receipt awaited at each checkpoint.

mod writer;

pub use writer::PulsarWriter;

use stream_core::Result;
use stream_core::api::{NoCommitter, Sink, TaskContext};

use crate::config::PulsarSink;

impl<T: Send + 'static> Sink<T> for PulsarSink<T> {
    type Committable = ();
    type WriterState = ();
    type Writer = PulsarWriter<T>;
    type Committer = NoCommitter<()>;

    fn connector_name(&self) -> &'static str {
        "pulsar"
    }

    async fn create_writer(&self, _ctx: &TaskContext, _restored: Vec<()>) -> Result<PulsarWriter<T>> {
        PulsarWriter::new(self).await
    }

    async fn create_committer(&self, _ctx: &TaskContext) -> Result<NoCommitter<()>> {
        Ok(NoCommitter::default())
    }
}

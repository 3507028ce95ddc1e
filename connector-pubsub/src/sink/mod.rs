//! [`crate::PubSubSink`]: at-least-once publishing, every publish confirmed by the
//! checkpoint.

mod writer;

pub use writer::PubSubWriter;

use stream_core::Result;
use stream_core::api::{NoCommitter, Sink, TaskContext};

use crate::config::PubSubSink;

impl<T: Send + 'static> Sink<T> for PubSubSink<T> {
    type Committable = ();
    type WriterState = ();
    type Writer = PubSubWriter<T>;
    type Committer = NoCommitter<()>;

    fn connector_name(&self) -> &'static str {
        "pubsub"
    }

    async fn create_writer(&self, _ctx: &TaskContext, _restored: Vec<()>) -> Result<PubSubWriter<T>> {
        PubSubWriter::new(self).await
    }

    async fn create_committer(&self, _ctx: &TaskContext) -> Result<NoCommitter<()>> {
        Ok(NoCommitter::default())
    }
}

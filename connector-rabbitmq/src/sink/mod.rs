//! [`crate::RabbitMqSink`]: publisher confirms awaited at every checkpoint.

mod writer;

pub use writer::RabbitMqWriter;

use stream_core::Result;
use stream_core::api::{NoCommitter, Sink, TaskContext};

use crate::config::RabbitMqSink;

impl<T: Send + 'static> Sink<T> for RabbitMqSink<T> {
    type Committable = ();
    type WriterState = ();
    type Writer = RabbitMqWriter<T>;
    type Committer = NoCommitter<()>;

    fn connector_name(&self) -> &'static str {
        "rabbitmq"
    }

    async fn create_writer(&self, _ctx: &TaskContext, _restored: Vec<()>) -> Result<RabbitMqWriter<T>> {
        RabbitMqWriter::new(self).await
    }

    async fn create_committer(&self, _ctx: &TaskContext) -> Result<NoCommitter<()>> {
        Ok(NoCommitter::default())
    }
}

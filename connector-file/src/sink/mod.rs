//! The file sink (exactly-once): part files are written hidden (in-progress), closed
//! to pending at every checkpoint (and earlier by the rolling policy), and renamed to
//! their finished name only when the checkpoint completes.

mod committer;
mod part;
mod writer;

pub use committer::{FileCommitter, PendingFile};
pub use writer::FileWriter;

use stream_core::Result;
use stream_core::api::{Sink, TaskContext};

use crate::config::FileSink;

impl<T: Send + 'static> Sink<T> for FileSink<T> {
    type Committable = PendingFile;
    type WriterState = ();
    type Writer = FileWriter<T>;
    type Committer = FileCommitter;

    fn connector_name(&self) -> &'static str {
        "file"
    }

    async fn create_writer(&self, ctx: &TaskContext, _restored: Vec<()>) -> Result<FileWriter<T>> {
        FileWriter::new(self, ctx).await
    }

    async fn create_committer(&self, _ctx: &TaskContext) -> Result<FileCommitter> {
        Ok(FileCommitter::new(self.location.clone()))
    }
}

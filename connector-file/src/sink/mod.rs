//! The file sink (exactly-once): part files are written hidden (in-progress), kept
//! open across checkpoints until the rolling policy closes them (bulk formats: at
//! every checkpoint), and renamed to their finished name only when the checkpoint
//! that closed them completes.

mod committer;
mod part;
mod writeback;
mod writer;

pub use committer::{FileCommitter, PendingFile};
pub use part::ResumablePart;
pub use writer::{FileWriter, InProgressPart};

use stream_core::Result;
use stream_core::api::{Sink, TaskContext};

use crate::config::FileSink;

impl<T: Send + 'static> Sink<T> for FileSink<T> {
    type Committable = PendingFile;
    type WriterState = InProgressPart;
    type Writer = FileWriter<T>;
    type Committer = FileCommitter;

    fn connector_name(&self) -> &'static str {
        "file"
    }

    async fn create_writer(&self, ctx: &TaskContext, restored: Vec<InProgressPart>) -> Result<FileWriter<T>> {
        FileWriter::new(self, ctx, restored).await
    }

    async fn create_committer(&self, _ctx: &TaskContext) -> Result<FileCommitter> {
        Ok(FileCommitter::new(self.location.clone()))
    }
}

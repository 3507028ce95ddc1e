//! The file source (exactly-once): splits are files; the enumerator lists a directory
//! once (bounded) or at an interval (continuous); readers keep exact positions.

mod enumerator;
mod reader;
mod split;

pub use enumerator::{FileEnumerator, FileEnumeratorState};
pub use reader::FileReader;
pub use split::{Compression, FileSplit};

use stream_core::Result;
use stream_core::api::{Boundedness, Source, TaskContext};

use crate::config::FileSource;

impl<T: Send + 'static> Source for FileSource<T> {
    type Output = T;
    type Split = FileSplit;
    type EnumeratorState = FileEnumeratorState;
    type Enumerator = FileEnumerator;
    type Reader = FileReader<T>;

    fn connector_name(&self) -> &'static str {
        "file"
    }

    fn boundedness(&self) -> Boundedness {
        if self.continuous.is_some() { Boundedness::ContinuousUnbounded } else { Boundedness::Bounded }
    }

    async fn create_enumerator(
        &self,
        _parallelism: usize,
        restored: Option<FileEnumeratorState>,
    ) -> Result<FileEnumerator> {
        Ok(FileEnumerator::new(self, restored.unwrap_or_default()))
    }

    async fn create_reader(&self, ctx: &TaskContext) -> Result<FileReader<T>> {
        Ok(FileReader::new(
            self.location.clone(),
            self.format.clone(),
            self.policy.clone(),
            self.lines_per_batch,
            ctx.source_metrics(),
        ))
    }
}

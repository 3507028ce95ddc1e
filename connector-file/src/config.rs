//! `FileSource` and its builder (validated options).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use connector_base::schema::BadRecordPolicy;
use stream_core::api::{Boundedness, Source, TaskContext};
use stream_core::{Result, StreamError};

use crate::format::{LineFormat, SharedFormat};
use crate::location::{Location, PathFilter};
use crate::source::{FileEnumerator, FileEnumeratorState, FileReader, FileSplit};

/// Reads the files of a directory as records of type `T` (exactly-once).
///
/// ```
/// use connector_file::{FileSource, TextLines};
/// # let dir = std::env::temp_dir();
/// let source = FileSource::builder(&dir, TextLines).recursive(false).build().unwrap();
/// ```
pub struct FileSource<T: 'static> {
    location: Location,
    format: SharedFormat<T>,
    recursive: bool,
    filter: PathFilter,
    continuous: Option<Duration>,
    retention: Duration,
    policy: BadRecordPolicy,
    lines_per_batch: usize,
    split_size: Option<u64>,
}

impl<T: Send + 'static> FileSource<T> {
    /// Read the files under `location` (a local directory, or
    /// [`Location::object_store`]) with `format`.
    pub fn builder(location: impl Into<Location>, format: impl LineFormat<T>) -> FileSourceBuilder<T> {
        FileSourceBuilder {
            source: FileSource {
                location: location.into(),
                format: Arc::new(format),
                recursive: true,
                filter: Arc::new(|_: &Path| true),
                continuous: None,
                retention: Duration::from_secs(3600),
                policy: BadRecordPolicy::Fail,
                lines_per_batch: 1024,
                split_size: None,
            },
        }
    }
}

/// Builder of [`FileSource`].
pub struct FileSourceBuilder<T: 'static> {
    source: FileSource<T>,
}

impl<T: Send + 'static> FileSourceBuilder<T> {
    /// Descend into sub-directories (default true).
    pub fn recursive(mut self, recursive: bool) -> Self {
        self.source.recursive = recursive;
        self
    }

    /// Read only files for which `filter` is true (hidden files, starting with `.` or
    /// `_`, are never read).
    pub fn filter(mut self, filter: impl Fn(&Path) -> bool + Send + Sync + 'static) -> Self {
        self.source.filter = Arc::new(filter);
        self
    }

    /// Keep watching the directory, listing it every `interval` (an unbounded source).
    pub fn monitor_continuously(mut self, interval: Duration) -> Self {
        self.source.continuous = Some(interval);
        self
    }

    /// How long (in file modification time) seen paths are remembered in continuous
    /// mode (default 1 hour; see the crate docs).
    pub fn processed_retention(mut self, retention: Duration) -> Self {
        self.source.retention = retention;
        self
    }

    /// What to do with a line that does not decode (default: fail).
    pub fn bad_records(mut self, policy: BadRecordPolicy) -> Self {
        self.source.policy = policy;
        self
    }

    /// Lines read per step (default 1024; smaller means checkpoints interleave sooner).
    pub fn lines_per_batch(mut self, n: usize) -> Self {
        self.source.lines_per_batch = n;
        self
    }

    /// Split plain (uncompressed) files larger than `bytes` into byte ranges read in
    /// parallel (default: one split per file). A range reads the lines that begin in
    /// it; compressed files are never split.
    pub fn split_size(mut self, bytes: u64) -> Self {
        self.source.split_size = Some(bytes);
        self
    }

    /// Validate and build; the error names the bad option or path.
    pub fn build(self) -> Result<FileSource<T>> {
        let s = self.source;
        if let Some(dir) = s.location.local_dir()
            && !dir.is_dir()
        {
            return Err(StreamError::invalid("dir", dir.display(), "must be an existing directory"));
        }
        if s.continuous == Some(Duration::ZERO) {
            return Err(StreamError::invalid("monitor_continuously", "0ms", "the discovery interval must be > 0"));
        }
        if let Some(size) = s.split_size
            && size < 4096
        {
            return Err(StreamError::invalid("split_size", size, "must be at least 4096 bytes"));
        }
        if s.lines_per_batch == 0 {
            return Err(StreamError::invalid("lines_per_batch", 0, "must be at least 1"));
        }
        Ok(s)
    }
}

impl<T: Send + 'static> Source for FileSource<T> {
    type Output = T;
    type Split = FileSplit;
    type EnumeratorState = FileEnumeratorState;
    type Enumerator = FileEnumerator;
    type Reader = FileReader<T>;

    fn boundedness(&self) -> Boundedness {
        if self.continuous.is_some() { Boundedness::ContinuousUnbounded } else { Boundedness::Bounded }
    }

    async fn create_enumerator(
        &self,
        _parallelism: usize,
        restored: Option<FileEnumeratorState>,
    ) -> Result<FileEnumerator> {
        Ok(FileEnumerator::new(
            self.location.clone(),
            self.recursive,
            self.filter.clone(),
            self.continuous,
            self.retention,
            self.split_size,
            restored.unwrap_or_default(),
        ))
    }

    async fn create_reader(&self, _ctx: &TaskContext) -> Result<FileReader<T>> {
        Ok(FileReader::new(self.location.clone(), self.format.clone(), self.policy.clone(), self.lines_per_batch))
    }
}

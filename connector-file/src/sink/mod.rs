//! The file sink (exactly-once): part files are written hidden (in-progress), closed
//! to pending at every checkpoint (and earlier by the rolling policy), and renamed to
//! their finished name only when the checkpoint completes.

mod committer;
mod encoder;
mod writer;

pub use committer::{FileCommitter, PendingFile};
pub use encoder::{CsvEncoder, JsonLinesEncoder, LineEncoder, RowEncoder};
pub use writer::FileWriter;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use stream_core::api::{Sink, TaskContext};
use stream_core::{Result, StreamError};

/// Which sub-directory (bucket) a record goes to.
pub enum BucketAssigner<T> {
    /// Everything in the output directory itself.
    Single,
    /// The processing time formatted with a `strftime` pattern (Flink's default:
    /// `%Y-%m-%d--%H`, one bucket per hour, UTC).
    DateTime(String),
    /// A function of the record.
    Function(Arc<dyn Fn(&T) -> String + Send + Sync>),
}

impl<T> Clone for BucketAssigner<T> {
    fn clone(&self) -> Self {
        match self {
            BucketAssigner::Single => BucketAssigner::Single,
            BucketAssigner::DateTime(p) => BucketAssigner::DateTime(p.clone()),
            BucketAssigner::Function(f) => BucketAssigner::Function(f.clone()),
        }
    }
}

/// When an in-progress part file is closed before the next checkpoint (it is always
/// closed at a checkpoint).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RollingPolicy {
    /// Close when the part reaches this size (default 128 MiB).
    pub max_part_size: u64,
    /// Close when the part has been open this long (default 60 s).
    pub rollover_interval: Duration,
    /// Close when nothing was written to the part for this long (default 60 s).
    pub inactivity_interval: Duration,
}

impl Default for RollingPolicy {
    fn default() -> Self {
        RollingPolicy {
            max_part_size: 128 * 1024 * 1024,
            rollover_interval: Duration::from_secs(60),
            inactivity_interval: Duration::from_secs(60),
        }
    }
}

/// Writes records as lines into part files under a directory (exactly-once).
pub struct FileSink<T: 'static> {
    pub(crate) dir: PathBuf,
    pub(crate) encoder: Arc<dyn RowEncoder<T>>,
    pub(crate) buckets: BucketAssigner<T>,
    pub(crate) rolling: RollingPolicy,
}

impl<T: Send + 'static> FileSink<T> {
    /// Write under `dir` with `encoder`, in hourly buckets by default.
    pub fn builder(dir: impl Into<PathBuf>, encoder: impl RowEncoder<T>) -> FileSinkBuilder<T> {
        FileSinkBuilder {
            sink: FileSink {
                dir: dir.into(),
                encoder: Arc::new(encoder),
                buckets: BucketAssigner::DateTime("%Y-%m-%d--%H".into()),
                rolling: RollingPolicy::default(),
            },
        }
    }
}

/// Builder of [`FileSink`].
pub struct FileSinkBuilder<T: 'static> {
    sink: FileSink<T>,
}

impl<T: Send + 'static> FileSinkBuilder<T> {
    /// Choose the buckets.
    pub fn buckets(mut self, buckets: BucketAssigner<T>) -> Self {
        self.sink.buckets = buckets;
        self
    }

    /// Choose when parts roll between checkpoints.
    pub fn rolling_policy(mut self, rolling: RollingPolicy) -> Self {
        self.sink.rolling = rolling;
        self
    }

    /// Validate and build; creates the directory and checks that it is writable.
    pub fn build(self) -> Result<FileSink<T>> {
        let s = self.sink;
        std::fs::create_dir_all(&s.dir).map_err(|e| StreamError::io(&s.dir, e))?;
        let probe = s.dir.join(".write-probe");
        std::fs::write(&probe, b"ok").map_err(|e| StreamError::io(&probe, e))?;
        std::fs::remove_file(&probe).map_err(|e| StreamError::io(&probe, e))?;
        if let BucketAssigner::DateTime(pattern) = &s.buckets {
            let invalid = chrono::format::StrftimeItems::new(pattern).any(|i| matches!(i, chrono::format::Item::Error));
            if invalid || pattern.contains('/') {
                return Err(StreamError::invalid("buckets", pattern, "not a valid strftime pattern without '/'"));
            }
        }
        if s.rolling.max_part_size == 0 {
            return Err(StreamError::invalid("max_part_size", 0, "must be at least 1 byte"));
        }
        if s.rolling.rollover_interval.is_zero() || s.rolling.inactivity_interval.is_zero() {
            return Err(StreamError::invalid(
                "rolling_policy",
                format!("{:?}/{:?}", s.rolling.rollover_interval, s.rolling.inactivity_interval),
                "intervals must be greater than zero",
            ));
        }
        Ok(s)
    }
}

impl<T: Send + 'static> Sink<T> for FileSink<T> {
    type Committable = PendingFile;
    type WriterState = ();
    type Writer = FileWriter<T>;
    type Committer = FileCommitter;

    async fn create_writer(&self, ctx: &TaskContext, _restored: Vec<()>) -> Result<FileWriter<T>> {
        FileWriter::new(self, ctx).await
    }

    async fn create_committer(&self, _ctx: &TaskContext) -> Result<FileCommitter> {
        Ok(FileCommitter)
    }
}

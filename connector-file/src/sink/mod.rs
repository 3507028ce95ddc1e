//! The file sink (exactly-once): part files are written hidden (in-progress), closed
//! to pending at every checkpoint (and earlier by the rolling policy), and renamed to
//! their finished name only when the checkpoint completes.

mod bulk;
mod committer;
mod encoder;
#[cfg(feature = "parquet")]
mod parquet;
mod part;
mod writer;

pub use bulk::{BulkFormat, BulkWriter};
pub use committer::{FileCommitter, PendingFile};
pub use encoder::{CsvEncoder, JsonLinesEncoder, LineEncoder, RowEncoder};
#[cfg(feature = "parquet")]
pub use parquet::ParquetFormat;
pub use writer::FileWriter;

use std::sync::Arc;
use std::time::Duration;

use stream_core::api::{Sink, TaskContext};
use stream_core::{Result, StreamError};

use crate::location::Location;

/// How records become bytes: one line each, or a bulk format per part.
pub(crate) enum PartFormat<T> {
    Rows(Arc<dyn RowEncoder<T>>),
    Bulk(Arc<dyn BulkFormat<T>>),
}

impl<T> Clone for PartFormat<T> {
    fn clone(&self) -> Self {
        match self {
            PartFormat::Rows(e) => PartFormat::Rows(e.clone()),
            PartFormat::Bulk(f) => PartFormat::Bulk(f.clone()),
        }
    }
}

impl<T: 'static> PartFormat<T> {
    fn extension(&self) -> &'static str {
        match self {
            PartFormat::Rows(e) => e.extension(),
            PartFormat::Bulk(f) => f.extension(),
        }
    }
}

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

/// Writes records into part files under a directory or object-store prefix
/// (exactly-once).
pub struct FileSink<T: 'static> {
    pub(crate) location: Location,
    pub(crate) format: PartFormat<T>,
    pub(crate) buckets: BucketAssigner<T>,
    pub(crate) rolling: Option<RollingPolicy>,
    pub(crate) part_size: usize,
}

impl<T: Send + 'static> FileSink<T> {
    /// Write lines with `encoder` under `location` (a local directory, or
    /// [`Location::object_store`]), in hourly buckets by default.
    pub fn builder(location: impl Into<Location>, encoder: impl RowEncoder<T>) -> FileSinkBuilder<T> {
        Self::with_format(location.into(), PartFormat::Rows(Arc::new(encoder)), Some(RollingPolicy::default()))
    }

    /// Write a bulk format (for example [`ParquetFormat`], feature `parquet`) under
    /// `location`; parts roll on every checkpoint only.
    pub fn bulk_builder(location: impl Into<Location>, format: impl BulkFormat<T>) -> FileSinkBuilder<T> {
        Self::with_format(location.into(), PartFormat::Bulk(Arc::new(format)), None)
    }

    fn with_format(location: Location, format: PartFormat<T>, rolling: Option<RollingPolicy>) -> FileSinkBuilder<T> {
        FileSinkBuilder {
            sink: FileSink {
                location,
                format,
                buckets: BucketAssigner::DateTime("%Y-%m-%d--%H".into()),
                rolling,
                part_size: 8 * 1024 * 1024,
            },
            rolling_set: false,
        }
    }

    /// The rolling policy, or "only at checkpoints" for bulk formats.
    pub(crate) fn rolling_or_checkpoint(&self) -> RollingPolicy {
        self.rolling.unwrap_or(RollingPolicy {
            max_part_size: u64::MAX,
            rollover_interval: Duration::MAX,
            inactivity_interval: Duration::MAX,
        })
    }
}

/// Builder of [`FileSink`].
pub struct FileSinkBuilder<T: 'static> {
    sink: FileSink<T>,
    rolling_set: bool,
}

impl<T: Send + 'static> FileSinkBuilder<T> {
    /// Choose the buckets.
    pub fn buckets(mut self, buckets: BucketAssigner<T>) -> Self {
        self.sink.buckets = buckets;
        self
    }

    /// Choose when parts roll between checkpoints (row formats only).
    pub fn rolling_policy(mut self, rolling: RollingPolicy) -> Self {
        self.sink.rolling = Some(rolling);
        self.rolling_set = true;
        self
    }

    /// Object stores: bytes buffered before a part of the multipart upload is sent
    /// (default 8 MiB; at least 5 MiB, S3's minimum). Memory per open part.
    pub fn multipart_part_size(mut self, bytes: usize) -> Self {
        self.sink.part_size = bytes;
        self
    }

    /// Validate and build; a local directory is created if missing and must be
    /// writable. Errors name the bad option or path.
    pub fn build(self) -> Result<FileSink<T>> {
        let s = self.sink;
        if let Some(dir) = s.location.local_dir() {
            std::fs::create_dir_all(dir).map_err(|e| StreamError::io(dir, e))?;
            let probe = dir.join(".write-probe");
            std::fs::write(&probe, b"ok").map_err(|e| StreamError::io(&probe, e))?;
            std::fs::remove_file(&probe).map_err(|e| StreamError::io(&probe, e))?;
        }
        if let BucketAssigner::DateTime(pattern) = &s.buckets {
            let invalid = chrono::format::StrftimeItems::new(pattern).any(|i| matches!(i, chrono::format::Item::Error));
            if invalid || pattern.contains('/') {
                return Err(StreamError::invalid("buckets", pattern, "not a valid strftime pattern without '/'"));
            }
        }
        if matches!(s.format, PartFormat::Bulk(_)) && self.rolling_set {
            return Err(StreamError::invalid(
                "rolling_policy",
                "a size/time policy",
                "bulk formats (Parquet) roll on every checkpoint only; remove rolling_policy",
            ));
        }
        if let Some(rolling) = &s.rolling {
            if rolling.max_part_size == 0 {
                return Err(StreamError::invalid("max_part_size", 0, "must be at least 1 byte"));
            }
            if rolling.rollover_interval.is_zero() || rolling.inactivity_interval.is_zero() {
                return Err(StreamError::invalid(
                    "rolling_policy",
                    format!("{:?}/{:?}", rolling.rollover_interval, rolling.inactivity_interval),
                    "intervals must be greater than zero",
                ));
            }
        }
        if s.part_size < part::MIN_PART_SIZE {
            return Err(StreamError::invalid(
                "multipart_part_size",
                s.part_size,
                "must be at least 5 MiB (5242880), S3's smallest multipart part",
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
        Ok(FileCommitter::new(self.location.clone()))
    }
}

//! The builders of `FileSource` and `FileSink` and the validation of their options.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use connector_base::schema::BadRecordPolicy;
use stream_core::{Result, StreamError};

use crate::format::{BulkFormat, LineFormat, PartFormat, RowEncoder, SharedFormat};
use crate::listing::PathFilter;
use crate::location::Location;

/// Reads the files of a directory as records of type `T` (exactly-once).
///
/// ```
/// use connector_file::{FileSource, TextLines};
/// # let dir = std::env::temp_dir();
/// let source = FileSource::builder(&dir, TextLines).recursive(false).build().unwrap();
/// ```
pub struct FileSource<T: 'static> {
    pub(crate) location: Location,
    pub(crate) format: SharedFormat<T>,
    pub(crate) recursive: bool,
    pub(crate) filter: PathFilter,
    pub(crate) continuous: Option<Duration>,
    pub(crate) retention: Duration,
    pub(crate) listing_failure_timeout: Duration,
    pub(crate) policy: BadRecordPolicy,
    pub(crate) lines_per_batch: usize,
    pub(crate) split_size: Option<u64>,
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
                listing_failure_timeout: Duration::from_secs(60),
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

    /// In continuous mode, how long listing the directory may keep failing (an
    /// object store unreachable for a while) before the source fails (default 60 s);
    /// until then each failed listing is logged and tried again at the next interval.
    /// The first listing fails at once (a wrong bucket or path).
    pub fn listing_failure_timeout(mut self, timeout: Duration) -> Self {
        self.source.listing_failure_timeout = timeout;
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

    /// Lines emitted per step (default 1024; smaller means checkpoints interleave
    /// sooner). Lines are read and decoded ahead, about 1 MiB at a time.
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
        if s.listing_failure_timeout.is_zero() {
            return Err(StreamError::invalid("listing_failure_timeout", "0s", "must be greater than zero"));
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

/// S3 needs every part of an upload but the last to be at least 5 MiB.
pub(crate) const MIN_PART_SIZE: usize = 5 * 1024 * 1024;

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

/// When an in-progress part file of a row format is closed (Flink's
/// `DefaultRollingPolicy`): checked as records arrive and at every checkpoint; until
/// then it stays in progress across checkpoints. Every part closes at the end of the
/// input.
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
        if s.part_size < MIN_PART_SIZE {
            return Err(StreamError::invalid(
                "multipart_part_size",
                s.part_size,
                "must be at least 5 MiB (5242880), S3's smallest multipart part",
            ));
        }
        Ok(s)
    }
}

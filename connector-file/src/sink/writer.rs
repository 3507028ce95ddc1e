//! Writes part files; closes them to pending at checkpoints and on rolling.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use stream_core::api::{SinkWriter, TaskContext};
use stream_core::{Result, StreamError};

use super::committer::PendingFile;
use super::{BucketAssigner, FileSink, RollingPolicy, RowEncoder};

struct Part {
    bucket: String,
    name: String,
    file: File,
    written: u64,
    opened: Instant,
    last_write: Instant,
}

/// The writer of one subtask.
pub struct FileWriter<T: 'static> {
    dir: PathBuf,
    encoder: Arc<dyn RowEncoder<T>>,
    buckets: BucketAssigner<T>,
    rolling: RollingPolicy,
    prefix: String,
    counter: u64,
    open: HashMap<String, Part>,
    closed: Vec<Part>,
    buffer: Vec<u8>,
    last_inactivity_check: Instant,
}

fn in_progress(dir: &Path, bucket: &str, name: &str) -> PathBuf {
    dir.join(bucket).join(format!(".{name}.inprogress"))
}

impl<T: Send + 'static> FileWriter<T> {
    pub(crate) async fn new(sink: &FileSink<T>, ctx: &TaskContext) -> Result<Self> {
        let (dir, attempt, restored) = (sink.dir.clone(), ctx.attempt_id.clone(), ctx.restored_checkpoint.unwrap_or(0));
        tokio::task::spawn_blocking(move || remove_orphans(&dir, &attempt, restored))
            .await
            .map_err(|e| StreamError::TaskFailed { task: "file sink clean-up".into(), message: e.to_string() })??;
        Ok(FileWriter {
            dir: sink.dir.clone(),
            encoder: sink.encoder.clone(),
            buckets: sink.buckets.clone(),
            rolling: sink.rolling,
            prefix: format!("part-{}-{}", ctx.attempt_id, ctx.subtask),
            counter: 0,
            open: HashMap::new(),
            closed: Vec::new(),
            buffer: Vec::new(),
            last_inactivity_check: Instant::now(),
        })
    }

    /// The bucket of every record of a batch when it does not depend on the record
    /// (single bucket, or processing time: read once per batch).
    fn batch_bucket(&self) -> Option<String> {
        match &self.buckets {
            BucketAssigner::Single => Some(String::new()),
            BucketAssigner::DateTime(pattern) => Some(chrono::Utc::now().format(pattern).to_string()),
            BucketAssigner::Function(_) => None,
        }
    }

    fn bucket_of(&self, record: &T) -> String {
        match &self.buckets {
            BucketAssigner::Function(f) => f(record).replace(['/', '\\'], "_"),
            BucketAssigner::Single | BucketAssigner::DateTime(_) => self.batch_bucket().unwrap_or_default(),
        }
    }

    fn open_part(&mut self, bucket: &str) -> Result<&mut Part> {
        if !self.open.contains_key(bucket) {
            let name = format!("{}-{}.{}", self.prefix, self.counter, self.encoder.extension());
            self.counter += 1;
            let dir = self.dir.join(bucket);
            std::fs::create_dir_all(&dir).map_err(|e| StreamError::io(&dir, e))?;
            let path = in_progress(&self.dir, bucket, &name);
            let file = OpenOptions::new()
                .create(true)
                .write(true)
                .truncate(true)
                .open(&path)
                .map_err(|e| StreamError::io(&path, e))?;
            let now = Instant::now();
            self.open.insert(
                bucket.to_string(),
                Part { bucket: bucket.into(), name, file, written: 0, opened: now, last_write: now },
            );
        }
        self.open.get_mut(bucket).ok_or(StreamError::ChannelClosed)
    }

    /// Append `buffer` (encoded records of one bucket) to the bucket's part; roll it
    /// when it is full or old.
    fn write_out(&mut self, bucket: String, buffer: &mut Vec<u8>, now: Instant) -> Result<()> {
        if buffer.is_empty() {
            return Ok(());
        }
        let (max_size, rollover) = (self.rolling.max_part_size, self.rolling.rollover_interval);
        let dir = self.dir.clone();
        let part = self.open_part(&bucket)?;
        part.file.write_all(buffer).map_err(|e| StreamError::io(in_progress(&dir, &part.bucket, &part.name), e))?;
        part.written += buffer.len() as u64;
        part.last_write = now;
        let full = part.written >= max_size || now.duration_since(part.opened) >= rollover;
        buffer.clear();
        if full {
            self.roll(&bucket);
        }
        Ok(())
    }

    fn roll(&mut self, bucket: &str) {
        if let Some(part) = self.open.remove(bucket) {
            self.closed.push(part);
        }
    }

    fn roll_inactive(&mut self) {
        let idle = self.rolling.inactivity_interval;
        let stale: Vec<String> =
            self.open.values().filter(|p| p.last_write.elapsed() >= idle).map(|p| p.bucket.clone()).collect();
        for bucket in stale {
            self.roll(&bucket);
        }
    }
}

/// Delete hidden part files that can never be committed: in-progress files of other
/// attempts, and pending files of checkpoints after the restored one. Files of this
/// attempt and pending files of the restored checkpoint or earlier are kept (the
/// latter are committed again from the restored state).
fn remove_orphans(dir: &Path, attempt: &str, restored: u64) -> Result<()> {
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for entry in std::fs::read_dir(&d).map_err(|e| StreamError::io(&d, e))? {
            let entry = entry.map_err(|e| StreamError::io(&d, e))?;
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            let name = entry.file_name().to_string_lossy().into_owned();
            if !name.starts_with(".part-") || name.starts_with(&format!(".part-{attempt}-")) {
                continue;
            }
            let orphan = name.ends_with(".inprogress")
                || name
                    .rsplit_once(".pending-cp")
                    .and_then(|(_, id)| id.parse::<u64>().ok())
                    .is_some_and(|id| id > restored);
            if orphan {
                tracing::info!(path = %path.display(), "removing a part file left by a dead attempt");
                match std::fs::remove_file(&path) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(StreamError::io(&path, e)),
                    _ => {}
                }
            }
        }
    }
    Ok(())
}

impl<T: Send + 'static> SinkWriter<T> for FileWriter<T> {
    type Committable = PendingFile;
    type State = ();

    async fn write(&mut self, record: T) -> Result<()> {
        self.write_batch(&mut vec![record]).await
    }

    /// One clock read per batch; with a single bucket the whole batch is encoded into
    /// one buffer and written at once.
    async fn write_batch(&mut self, records: &mut Vec<T>) -> Result<()> {
        let now = Instant::now();
        let batch_bucket = self.batch_bucket();
        let mut buffer = std::mem::take(&mut self.buffer);
        buffer.clear();
        let mut pending_bucket: Option<String> = None;
        // Size of the bucket's open part before `buffer`: a part rolls right after the
        // record that fills it, as in Flink (it exceeds the limit by one record at most).
        let mut part_size = 0u64;
        let max_size = self.rolling.max_part_size;
        for record in records.drain(..) {
            if batch_bucket.is_none() {
                let bucket = self.bucket_of(&record);
                if pending_bucket.as_ref() != Some(&bucket) {
                    if let Some(previous) = pending_bucket.take() {
                        self.write_out(previous, &mut buffer, now)?;
                    }
                    part_size = self.open.get(&bucket).map(|p| p.written).unwrap_or(0);
                    pending_bucket = Some(bucket);
                }
            } else if pending_bucket.is_none() {
                let bucket = batch_bucket.clone().unwrap_or_default();
                part_size = self.open.get(&bucket).map(|p| p.written).unwrap_or(0);
                pending_bucket = Some(bucket);
            }
            self.encoder.encode(&record, &mut buffer).map_err(|e| StreamError::connector(std::io::Error::other(e)))?;
            if part_size + buffer.len() as u64 >= max_size || buffer.len() >= 64 * 1024 {
                let bucket = pending_bucket.clone().unwrap_or_default();
                self.write_out(bucket.clone(), &mut buffer, now)?;
                part_size = self.open.get(&bucket).map(|p| p.written).unwrap_or(0);
            }
        }
        if let Some(bucket) = pending_bucket.filter(|_| !buffer.is_empty()) {
            self.write_out(bucket, &mut buffer, now)?;
        }
        self.buffer = buffer;
        if now.duration_since(self.last_inactivity_check) >= Duration::from_secs(1) {
            self.last_inactivity_check = now;
            self.roll_inactive();
        }
        Ok(())
    }

    async fn flush(&mut self, _end_of_input: bool) -> Result<()> {
        Ok(())
    }

    /// Close every part (fsync), give it its pending name and hand it to the committer.
    async fn prepare_commit(&mut self, checkpoint_id: u64) -> Result<Vec<PendingFile>> {
        let open: Vec<String> = self.open.keys().cloned().collect();
        for bucket in open {
            self.roll(&bucket);
        }
        let parts = std::mem::take(&mut self.closed);
        let dir = self.dir.clone();
        tokio::task::spawn_blocking(move || {
            let mut pending = Vec::with_capacity(parts.len());
            for part in parts {
                let from = in_progress(&dir, &part.bucket, &part.name);
                part.file.sync_all().map_err(|e| StreamError::io(&from, e))?;
                let bucket_dir = dir.join(&part.bucket);
                let to = bucket_dir.join(format!(".{}.pending-cp{checkpoint_id}", part.name));
                std::fs::rename(&from, &to).map_err(|e| StreamError::io(&to, e))?;
                File::open(&bucket_dir).and_then(|d| d.sync_all()).map_err(|e| StreamError::io(&bucket_dir, e))?;
                pending.push(PendingFile { pending: to, finished: bucket_dir.join(&part.name) });
            }
            Ok(pending)
        })
        .await
        .map_err(|e| StreamError::TaskFailed { task: "file pre-commit".into(), message: e.to_string() })?
    }
}

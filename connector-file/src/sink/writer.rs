//! Writes part files. A part stays in progress across checkpoints until the rolling
//! policy closes it (Flink's default: 128 MiB, 60 s open, 60 s inactive; checked as
//! records arrive and at every checkpoint), or at every checkpoint for bulk formats,
//! or at the end of the input; a closed part is pending until its checkpoint
//! completes. Open parts are persisted at every checkpoint and resumed on restore.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use connector_base::schema::SchemaError;
use stream_core::api::{SinkWriter, TaskContext};
use stream_core::metrics::SinkMetrics;
use stream_core::{Result, StreamError};

use super::committer::PendingFile;
use super::part::{PartOutput, ResumablePart, opened_after};
use crate::config::{BucketAssigner, FileSink, RollingPolicy};
use crate::error::FileError;
use crate::format::{BulkWriter, PartFormat};
use crate::location::Location;

struct Part<T> {
    bucket: String,
    name: String,
    output: PartOutput,
    bulk: Option<Box<dyn BulkWriter<T>>>,
    written: u64,
    opened: Instant,
    /// When it was opened, in ms since the Unix epoch (kept across restores).
    opened_at_ms: u64,
    last_write: Instant,
}

/// A part file in progress at a checkpoint: the writer's checkpointed state, from
/// which a restore resumes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InProgressPart {
    bucket: String,
    name: String,
    written: u64,
    opened_at_ms: u64,
    output: ResumablePart,
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// The writer of one subtask.
pub struct FileWriter<T: 'static> {
    location: Location,
    format: PartFormat<T>,
    buckets: BucketAssigner<T>,
    rolling: RollingPolicy,
    part_size: usize,
    prefix: String,
    counter: u64,
    open: HashMap<String, Part<T>>,
    closed: Vec<Part<T>>,
    buffer: Vec<u8>,
    last_inactivity_check: Instant,
    metrics: SinkMetrics,
    /// The last checkpoint this writer took part in (or was restored from): a part
    /// opened now carries it in its in-progress name.
    after: u64,
    /// Close every part at every checkpoint (bulk formats).
    roll_on_checkpoint: bool,
    /// No record follows: the next checkpoint closes every part.
    ending: bool,
    /// The open parts as persisted by the last `prepare_commit`.
    snapshot: Vec<InProgressPart>,
}

impl<T: Send + 'static> FileWriter<T> {
    pub(crate) async fn new(sink: &FileSink<T>, ctx: &TaskContext, restored: Vec<InProgressPart>) -> Result<Self> {
        let restored_checkpoint = ctx.restored_checkpoint.unwrap_or(0);
        let prefix = part_prefix(ctx);
        if let Some(dir) = sink.location.local_dir() {
            let (dir, prefix) = (dir.to_path_buf(), prefix.clone());
            tokio::task::spawn_blocking(move || remove_orphans(&dir, &prefix, restored_checkpoint))
                .await
                .map_err(|e| StreamError::join_failed("file sink clean-up", e))??;
        }
        let mut writer = FileWriter {
            location: sink.location.clone(),
            format: sink.format.clone(),
            buckets: sink.buckets.clone(),
            rolling: sink.rolling_or_checkpoint(),
            part_size: sink.part_size,
            prefix: format!("{prefix}{}", ctx.subtask),
            counter: 0,
            open: HashMap::new(),
            closed: Vec::new(),
            buffer: Vec::new(),
            last_inactivity_check: Instant::now(),
            metrics: ctx.sink_metrics(),
            after: restored_checkpoint,
            roll_on_checkpoint: matches!(sink.format, PartFormat::Bulk(_)),
            ending: false,
            snapshot: Vec::new(),
        };
        for part in restored {
            writer.resume(part).await?;
        }
        Ok(writer)
    }

    /// Open a part again where the restored checkpoint left it; a second one of the
    /// same bucket (after a rescale) is closed at the next checkpoint.
    async fn resume(&mut self, state: InProgressPart) -> Result<()> {
        let output = PartOutput::resume(&self.location, state.output, self.part_size).await?;
        let now = Instant::now();
        let age = Duration::from_millis(now_ms().saturating_sub(state.opened_at_ms));
        let part = Part {
            bucket: state.bucket.clone(),
            name: state.name,
            output,
            bulk: None,
            written: state.written,
            opened: now.checked_sub(age).unwrap_or(now),
            opened_at_ms: state.opened_at_ms,
            last_write: now,
        };
        tracing::debug!(bucket = %part.bucket, name = %part.name, bytes = part.written, "resuming an in-progress part");
        match self.open.entry(state.bucket) {
            std::collections::hash_map::Entry::Occupied(_) => self.closed.push(part),
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(part);
            }
        }
        Ok(())
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

    /// The open part of `bucket`, opened now if there is none.
    async fn open_part(&mut self, bucket: &str) -> Result<&mut Part<T>> {
        if !self.open.contains_key(bucket) {
            let name = format!("{}-{}.{}", self.prefix, self.counter, self.format.extension());
            self.counter += 1;
            let output = PartOutput::create(&self.location, bucket, &name, self.after, self.part_size).await?;
            let bulk = match &self.format {
                PartFormat::Rows(_) => None,
                PartFormat::Bulk(format) => {
                    Some(format.create_writer().map_err(|message| self.encode_error(&name, message))?)
                }
            };
            let now = Instant::now();
            self.open.insert(
                bucket.to_string(),
                Part {
                    bucket: bucket.into(),
                    name,
                    output,
                    bulk,
                    written: 0,
                    opened: now,
                    opened_at_ms: now_ms(),
                    last_write: now,
                },
            );
        }
        self.open.get_mut(bucket).ok_or(StreamError::ChannelClosed)
    }

    fn encode_error(&self, name: &str, source: SchemaError) -> StreamError {
        FileError::Encode { location: format!("{}/{name}", self.location), source }.into()
    }

    /// Encode `record` into `buffer` (bytes for the bucket's part; a bulk format's part
    /// must be open).
    fn encode(&mut self, bucket: &str, record: &T, buffer: &mut Vec<u8>) -> Result<()> {
        let encoded = match &self.format {
            PartFormat::Rows(encoder) => encoder.encode(record, buffer),
            PartFormat::Bulk(_) => match self.open.get_mut(bucket).and_then(|p| p.bulk.as_mut()) {
                Some(writer) => writer.write(record, buffer),
                None => Err("no open part for a bulk format".into()),
            },
        };
        encoded.map_err(|message| self.encode_error(bucket, message))
    }

    /// Append `buffer` (encoded records of one bucket) to the bucket's part; roll it
    /// when it is full or old.
    async fn write_out(&mut self, bucket: &str, buffer: &mut Vec<u8>, now: Instant) -> Result<()> {
        if buffer.is_empty() {
            return Ok(());
        }
        let (max_size, rollover) = (self.rolling.max_part_size, self.rolling.rollover_interval);
        let part = self.open_part(bucket).await?;
        part.output.write(buffer).await?;
        part.written += buffer.len() as u64;
        part.last_write = now;
        let full = part.written >= max_size || now.duration_since(part.opened) >= rollover;
        self.metrics.bytes_out(buffer.len() as u64);
        buffer.clear();
        if full {
            self.roll(bucket);
        }
        Ok(())
    }

    fn roll(&mut self, bucket: &str) {
        if let Some(mut part) = self.open.remove(bucket) {
            part.output.start_writeback();
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

    /// Whether the checkpoint now taken closes `part`.
    fn closes_at_checkpoint(&self, part: &Part<T>) -> bool {
        let policy = &self.rolling;
        self.ending
            || self.roll_on_checkpoint
            || part.written >= policy.max_part_size
            || part.opened.elapsed() >= policy.rollover_interval
            || part.last_write.elapsed() >= policy.inactivity_interval
    }

    /// Encoded size of the bucket's open part.
    fn part_size_of(&self, bucket: &str) -> u64 {
        self.open.get(bucket).map(|p| p.written).unwrap_or(0)
    }
}

/// The start of this attempt's part names, up to the subtask: `part-<attempt>-`, or
/// `part-r<index>-<attempt>-` when the job runs as several replicas, which may share
/// a directory.
fn part_prefix(ctx: &TaskContext) -> String {
    match ctx.replica.count() {
        1 => format!("part-{}-", ctx.attempt_id),
        _ => format!("part-r{}-{}-", ctx.replica.index(), ctx.attempt_id),
    }
}

/// The replica index a part name (`part-r<index>-...`, without the leading dot of a
/// hidden part) carries, if any.
fn replica_of(name: &str) -> Option<&str> {
    let (index, _) = name.strip_prefix("part-r")?.split_once('-')?;
    index.parse::<usize>().is_ok().then_some(index)
}

/// Delete hidden part files of other attempts of this replica that no checkpoint up
/// to the restored one holds: in-progress files opened after it (their names say
/// after which checkpoint they were opened), and those of earlier versions of this
/// sink (in-progress files without that mark, pending files of later checkpoints).
/// In-progress files opened before it stay: the restored state resumes them or
/// commits them again. Files of this attempt (names starting with `.{ours}`, from
/// [`part_prefix`]) and of other replicas (`.part-r<other>-`) are never touched.
fn remove_orphans(dir: &Path, ours: &str, restored: u64) -> Result<()> {
    let replica = replica_of(ours);
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
            let another_replica =
                name.strip_prefix('.').and_then(replica_of).is_some_and(|index| Some(index) != replica);
            if !name.starts_with(".part-") || name.starts_with(&format!(".{ours}")) || another_replica {
                continue;
            }
            let orphan = match opened_after(&name) {
                Some(after) => after >= restored,
                None => name.ends_with(".inprogress"),
            } || name
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
    type State = InProgressPart;

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
            let record_bucket;
            let bucket: &str = match &batch_bucket {
                Some(bucket) => bucket,
                None => {
                    record_bucket = self.bucket_of(&record);
                    &record_bucket
                }
            };
            // A batch-wide bucket is set once; a per-record bucket is compared each time.
            let switch = match &batch_bucket {
                Some(_) => pending_bucket.is_none(),
                None => pending_bucket.as_deref() != Some(bucket),
            };
            if switch {
                if let Some(previous) = pending_bucket.take() {
                    self.write_out(&previous, &mut buffer, now).await?;
                }
                part_size = self.part_size_of(bucket);
                pending_bucket = Some(bucket.to_string());
            }
            if matches!(self.format, PartFormat::Bulk(_)) && !self.open.contains_key(bucket) {
                self.open_part(bucket).await?;
            }
            self.encode(bucket, &record, &mut buffer)?;
            if part_size + buffer.len() as u64 >= max_size || buffer.len() >= 256 * 1024 {
                self.write_out(bucket, &mut buffer, now).await?;
                part_size = self.part_size_of(bucket);
            }
        }
        if let Some(bucket) = pending_bucket {
            self.write_out(&bucket, &mut buffer, now).await?;
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

    async fn end_of_data(&mut self) -> Result<()> {
        self.ending = true;
        Ok(())
    }

    /// Close the parts the rolling policy closes now (bulk formats write their
    /// footer; local files are fsynced) and hand them to the committer; persist the
    /// others for the snapshot.
    async fn prepare_commit(&mut self, checkpoint_id: u64) -> Result<Vec<PendingFile>> {
        let closing: Vec<String> =
            self.open.values().filter(|p| self.closes_at_checkpoint(p)).map(|p| p.bucket.clone()).collect();
        for bucket in closing {
            self.roll(&bucket);
        }
        let mut pending = Vec::with_capacity(self.closed.len());
        for mut part in std::mem::take(&mut self.closed) {
            if let Some(bulk) = part.bulk.take() {
                let mut tail = Vec::new();
                bulk.finish(&mut tail).map_err(|message| self.encode_error(&part.name, message))?;
                part.output.write(&tail).await?;
            }
            pending.push(part.output.close().await?);
        }
        let mut snapshot = Vec::with_capacity(self.open.len());
        for part in self.open.values_mut() {
            snapshot.push(InProgressPart {
                bucket: part.bucket.clone(),
                name: part.name.clone(),
                written: part.written,
                opened_at_ms: part.opened_at_ms,
                output: part.output.persist(part.written).await?,
            });
        }
        self.snapshot = snapshot;
        self.after = checkpoint_id;
        Ok(pending)
    }

    fn snapshot_state(&mut self, _checkpoint_id: u64) -> Result<Vec<InProgressPart>> {
        Ok(std::mem::take(&mut self.snapshot))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replica_removes_only_its_own_dead_attempts_parts() {
        let dir = tempfile::tempdir().unwrap();
        let names = [
            ".part-r1-0000dead-0-0-0.txt.cp5.inprogress",
            ".part-r0-0000live-0-0-0.txt.cp5.inprogress",
            ".part-r1-0000mine-0-0-0.txt.cp5.inprogress",
            ".part-0000solo-0-0-0.txt.cp5.inprogress",
        ];
        for name in names {
            std::fs::write(dir.path().join(name), "x").unwrap();
        }
        // Replica 1, attempt 0000mine, restored checkpoint 3: its dead attempt's part
        // and a single-replica run's go.
        remove_orphans(dir.path(), "part-r1-0000mine-", 3).unwrap();
        let mut left: Vec<String> =
            std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into()).collect();
        left.sort();
        assert_eq!(left, [names[1], names[2]], "replica 0's and this attempt's parts stay");
        // A single-replica job leaves the replicas' parts alone.
        remove_orphans(dir.path(), "part-0000next-", 3).unwrap();
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
    }
}

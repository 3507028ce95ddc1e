//! Reads the assigned files line by line. The position of a split always covers
//! exactly the lines emitted, so a restore resumes mid-file without repeating a line:
//! plain files seek to the byte offset, compressed files skip the emitted lines.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader};

use connector_base::schema::{BadRecordPolicy, Decoder, DeserializationSchema};
use stream_core::api::{ReadStatus, SourceReader};
use stream_core::metrics::SourceMetrics;
use stream_core::{Result, StreamError};

use super::split::{Compression, FileSplit};
use crate::format::SharedFormat;
use crate::location::Location;

type Lines = Box<dyn BufRead + Send>;

struct Open<T: 'static> {
    split: FileSplit,
    lines: Lines,
    decoder: Decoder<T>,
    /// Records read and decoded past `split`'s position, not emitted yet.
    ahead: ReadAhead<T>,
}

/// Records read and decoded in one blocking call, emitted a batch at a time: one
/// blocking call per ~1 MiB instead of one per batch (on the blocking pool, a trip
/// there and back per 1 024 lines cost the source about as much CPU as reading the
/// lines); each line is decoded right after it is read, while it is in the cache. The
/// buffers are reused from one read to the next.
struct ReadAhead<T> {
    records: VecDeque<T>,
    batches: VecDeque<LineBatch>,
    /// Why reading stopped early (a line that does not decode under the fail policy,
    /// or an I/O error): raised once the batches before it are emitted.
    error: Option<StreamError>,
    /// The split ends after these batches.
    last: bool,
}

/// Up to `lines_per_batch` lines: how many records they gave and how far they move
/// the split.
#[derive(Default)]
struct LineBatch {
    records: usize,
    bytes: u64,
    lines: u64,
}

impl<T> Default for ReadAhead<T> {
    fn default() -> Self {
        ReadAhead { records: VecDeque::new(), batches: VecDeque::new(), error: None, last: false }
    }
}

impl<T> ReadAhead<T> {
    /// Nothing is left to emit or raise.
    fn is_empty(&self) -> bool {
        self.batches.is_empty() && self.error.is_none()
    }
}

/// Bytes read ahead per blocking call (a line is never cut: the last may cross it).
const READ_AHEAD_BYTES: u64 = 1024 * 1024;

/// One line of a file as a record, with the file's header.
struct LineSchema<T> {
    format: SharedFormat<T>,
    header: Option<String>,
}

impl<T: 'static> DeserializationSchema<T> for LineSchema<T> {
    fn deserialize(&self, bytes: &[u8]) -> std::result::Result<T, connector_base::schema::SchemaError> {
        let line = std::str::from_utf8(bytes).map_err(|e| format!("invalid UTF-8: {e}"))?;
        self.format.decode(line, self.header.as_deref())
    }
}

/// The reader of one subtask.
pub struct FileReader<T: 'static> {
    location: Location,
    format: SharedFormat<T>,
    policy: BadRecordPolicy,
    lines_per_batch: usize,
    queue: VecDeque<FileSplit>,
    current: Option<Open<T>>,
    no_more_splits: bool,
    metrics: SourceMetrics,
}

impl<T: Send + 'static> FileReader<T> {
    pub(crate) fn new(
        location: Location,
        format: SharedFormat<T>,
        policy: BadRecordPolicy,
        lines_per_batch: usize,
        metrics: SourceMetrics,
    ) -> Self {
        FileReader {
            location,
            format,
            policy,
            lines_per_batch,
            queue: VecDeque::new(),
            current: None,
            no_more_splits: false,
            metrics,
        }
    }
}

/// Open `split` at its position (blocking I/O off the async threads).
async fn open<T: Send + 'static>(
    location: &Location,
    format: SharedFormat<T>,
    policy: BadRecordPolicy,
    mut split: FileSplit,
) -> Result<Open<T>> {
    let has_header = format.has_header();
    let compression = Compression::of(&split.path);
    let range_start = split.range.map(|(start, _)| start).unwrap_or(0);
    if has_header && split.header.is_none() && range_start > 0 {
        // A later range of a file with a header: the header is the file's first line.
        let file = location.open(&split.path, 0, split.size).await?;
        let path = split.path.clone();
        let header = blocking("file header", move || first_line(file, &path)).await??;
        split.header = Some(header);
    }
    // A range that is not aligned yet starts one byte early and skips to the end of that
    // line: the line crossing `start` belongs to the range before.
    let align = range_start > 0 && split.offset == range_start;
    let start = match compression {
        Compression::None if align => split.offset - 1,
        Compression::None => split.offset,
        _ => 0,
    };
    let file = location.open(&split.path, start, split.size).await?;
    let (split, lines) = blocking("file open", move || -> Result<(FileSplit, Lines)> {
        let path = split.path.clone();
        let io = |e| StreamError::io(&path, e);
        let mut lines: Lines = match compression {
            Compression::None => Box::new(BufReader::with_capacity(256 * 1024, file)),
            Compression::Gzip => Box::new(BufReader::new(flate2::read::MultiGzDecoder::new(file))),
            Compression::Zstd => Box::new(BufReader::new(zstd::stream::read::Decoder::new(file).map_err(io)?)),
        };
        let mut buf = Vec::new();
        if align {
            let n = lines.read_until(b'\n', &mut buf).map_err(io)?;
            split.offset = start + n as u64;
        }
        let at_start = compression != Compression::None || split.offset == 0;
        if has_header && at_start {
            let n = lines.read_until(b'\n', &mut buf).map_err(io)?;
            let header = String::from_utf8_lossy(trim_eol(&buf)).into_owned();
            if split.header.is_none() {
                split.header = Some(header);
                split.offset = n as u64;
            }
        }
        if compression != Compression::None {
            for _ in 0..split.lines {
                buf.clear();
                if lines.read_until(b'\n', &mut buf).map_err(io)? == 0 {
                    break;
                }
            }
        }
        Ok((split, lines))
    })
    .await??;
    let schema = LineSchema { format, header: split.header.clone() };
    Ok(Open { split, lines, decoder: Decoder::new(schema, policy), ahead: ReadAhead::default() })
}

fn first_line(file: Box<dyn std::io::Read + Send>, path: &std::path::Path) -> Result<String> {
    let mut line = Vec::new();
    BufReader::new(file).read_until(b'\n', &mut line).map_err(|e| StreamError::io(path, e))?;
    Ok(String::from_utf8_lossy(trim_eol(&line)).into_owned())
}

fn trim_eol(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// What a blocking read needs besides the reader.
struct ReadPlan<T: 'static> {
    decoder: Decoder<T>,
    lines_per_batch: usize,
    /// The reader's position (bytes from the start of the file).
    offset: u64,
    /// Lines that begin at or after this belong to the next range.
    range_end: u64,
    path: std::path::PathBuf,
}

/// Read and decode about [`READ_AHEAD_BYTES`] of the lines that begin before the
/// plan's `range_end` into `ahead` (emptied, its buffers kept).
fn read_ahead<T>(lines: &mut Lines, plan: &ReadPlan<T>, ahead: &mut ReadAhead<T>) {
    let mut batch = LineBatch::default();
    let (mut position, mut line) = (plan.offset, Vec::with_capacity(256));
    while position - plan.offset < READ_AHEAD_BYTES {
        if position >= plan.range_end {
            ahead.last = true;
            break;
        }
        line.clear();
        let n = match lines.read_until(b'\n', &mut line) {
            Ok(0) => {
                ahead.last = true;
                break;
            }
            Ok(n) => n as u64,
            Err(e) => {
                ahead.error = Some(StreamError::io(&plan.path, e));
                break;
            }
        };
        let text = trim_eol(&line);
        if !text.is_empty() {
            match plan.decoder.decode(text, Origin { path: &plan.path, offset: position }) {
                Ok(Some(record)) => {
                    ahead.records.push_back(record);
                    batch.records += 1;
                }
                Ok(None) => {}
                Err(error) => {
                    ahead.error = Some(error);
                    break;
                }
            }
        }
        position += n;
        batch.bytes += n;
        batch.lines += 1;
        if batch.lines as usize == plan.lines_per_batch {
            ahead.batches.push_back(std::mem::take(&mut batch));
        }
    }
    if batch.lines > 0 {
        ahead.batches.push_back(batch);
    }
}

/// Run blocking `work` (file I/O and decoding): in place on a multi-threaded
/// runtime's worker, else on the blocking pool. In place, no thread is woken and
/// handed back to per read, and the records are allocated on the thread whose chained
/// operators free them: on the blocking pool both cost the source ~20 % more CPU
/// than reading in place (`cargo xtask bench file`, CPU time of 20 reads each).
async fn blocking<R: Send + 'static>(task: &str, work: impl FnOnce() -> R + Send + 'static) -> Result<R> {
    use tokio::runtime::{Handle, RuntimeFlavor};
    if Handle::current().runtime_flavor() == RuntimeFlavor::MultiThread {
        return Ok(tokio::task::block_in_place(work));
    }
    tokio::task::spawn_blocking(work).await.map_err(|e| StreamError::join_failed(task, e))
}

/// Where a line came from, formatted only when a bad record is reported.
struct Origin<'a> {
    path: &'a std::path::Path,
    offset: u64,
}

impl std::fmt::Display for Origin<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}@{}", self.path.display(), self.offset)
    }
}

impl<T: Send + 'static> SourceReader for FileReader<T> {
    type Output = T;
    type Split = FileSplit;

    fn add_splits(&mut self, splits: Vec<FileSplit>) {
        self.queue.extend(splits);
    }

    fn notify_no_more_splits(&mut self) {
        self.no_more_splits = true;
    }

    async fn poll_next(&mut self, out: &mut Vec<T>) -> Result<ReadStatus> {
        if self.current.is_none() {
            let Some(split) = self.queue.pop_front() else {
                return Ok(if self.no_more_splits { ReadStatus::Finished } else { ReadStatus::NeedSplits });
            };
            self.current = Some(open(&self.location, self.format.clone(), self.policy.clone(), split).await?);
        }
        let Some(mut open) = self.current.take() else { return Ok(ReadStatus::MoreAvailable) };
        if open.ahead.is_empty() && !open.ahead.last {
            let plan = ReadPlan {
                decoder: open.decoder.clone(),
                lines_per_batch: self.lines_per_batch,
                offset: open.split.offset,
                range_end: open.split.range.map(|(_, end)| end).unwrap_or(u64::MAX),
                path: open.split.path.clone(),
            };
            let mut lines = std::mem::replace(&mut open.lines, Box::new(std::io::empty()) as Lines);
            let mut ahead = std::mem::take(&mut open.ahead);
            let (lines, ahead) = blocking("file read", move || {
                read_ahead(&mut lines, &plan, &mut ahead);
                (lines, ahead)
            })
            .await?;
            (open.lines, open.ahead) = (lines, ahead);
        }
        if let Some(batch) = open.ahead.batches.pop_front() {
            out.extend(open.ahead.records.drain(..batch.records));
            open.split.offset += batch.bytes;
            open.split.lines += batch.lines;
            self.metrics.bytes_in(batch.bytes);
        } else if let Some(error) = open.ahead.error.take() {
            return Err(error);
        }
        if !(open.ahead.is_empty() && open.ahead.last) {
            self.current = Some(open);
        }
        Ok(ReadStatus::MoreAvailable)
    }

    fn snapshot_state(&mut self, _checkpoint_id: u64) -> Result<Vec<FileSplit>> {
        let current = self.current.as_ref().map(|o| o.split.clone());
        Ok(current.into_iter().chain(self.queue.iter().cloned()).collect())
    }
}

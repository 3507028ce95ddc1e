//! Lists the input directory once (bounded) or every discovery interval
//! (continuous) and hands files out on request. Under replicas, each process takes
//! the files and byte ranges its replica owns (by split id).
//!
//! Processed-paths policy (continuous mode): the enumerator remembers the paths it
//! has seen whose modification time is within `processed_retention` of the newest
//! modification time seen (the watermark); older files are taken as processed and
//! forgotten, so the state does not grow forever. A file that appears with a
//! modification time older than the watermark minus the retention is not read:
//! move complete files into the directory (write under a hidden name, then rename).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use stream_core::api::{EnumeratorContext, SourceSplit, SplitEnumerator};
use stream_core::retry::Tolerance;
use stream_core::{Replica, Result};

use super::split::FileSplit;
use crate::config::FileSource;
use crate::listing::PathFilter;
use crate::location::Location;

/// Checkpointed state of the enumerator.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct FileEnumeratorState {
    pending: Vec<FileSplit>,
    seen: Vec<(PathBuf, u64)>,
    watermark_ms: u64,
    listed: bool,
}

/// See the module docs.
pub struct FileEnumerator {
    pub(crate) location: Location,
    pub(crate) recursive: bool,
    pub(crate) filter: PathFilter,
    pub(crate) continuous: Option<Duration>,
    pub(crate) retention: Duration,
    /// Failed listings in continuous mode, tolerated for `listing_failure_timeout`.
    listing_failures: Tolerance,
    pub(crate) split_size: Option<u64>,
    pending: VecDeque<FileSplit>,
    seen: BTreeMap<PathBuf, u64>,
    watermark_ms: u64,
    listed: bool,
    waiting: BTreeSet<usize>,
}

impl FileEnumerator {
    pub(crate) fn new<T>(source: &FileSource<T>, state: FileEnumeratorState) -> Self {
        FileEnumerator {
            location: source.location.clone(),
            recursive: source.recursive,
            filter: source.filter.clone(),
            continuous: source.continuous,
            retention: source.retention,
            listing_failures: Tolerance::new(source.listing_failure_timeout),
            split_size: source.split_size,
            pending: state.pending.into(),
            seen: state.seen.into_iter().collect(),
            watermark_ms: state.watermark_ms,
            listed: state.listed,
            waiting: BTreeSet::new(),
        }
    }

    async fn list_new(&mut self, replica: Replica) -> Result<()> {
        let files = self.location.list(self.recursive, self.filter.clone()).await?;
        let horizon = self.watermark_ms.saturating_sub(self.retention.as_millis() as u64);
        for file in files {
            if self.seen.contains_key(&file.path) || (self.listed && file.modified_ms < horizon) {
                continue;
            }
            self.seen.insert(file.path.clone(), file.modified_ms);
            self.watermark_ms = self.watermark_ms.max(file.modified_ms);
            let splits = FileSplit::of_file(file.path, file.modified_ms, file.size, self.split_size);
            self.pending.extend(splits.into_iter().filter(|split| replica.owns(&split.split_id())));
        }
        let horizon = self.watermark_ms.saturating_sub(self.retention.as_millis() as u64);
        self.seen.retain(|_, modified| *modified >= horizon);
        self.listed = true;
        Ok(())
    }

    fn serve(&mut self, subtask: usize, ctx: &mut EnumeratorContext<FileSplit>) {
        match self.pending.pop_front() {
            Some(split) => ctx.assign_split(subtask, split),
            None if self.continuous.is_none() => ctx.signal_no_more_splits(subtask),
            None => {
                self.waiting.insert(subtask);
            }
        }
    }
}

impl SplitEnumerator for FileEnumerator {
    type Split = FileSplit;
    type State = FileEnumeratorState;

    async fn start(&mut self, ctx: &mut EnumeratorContext<FileSplit>) -> Result<()> {
        if !self.listed {
            self.list_new(ctx.replica()).await?;
        }
        Ok(())
    }

    async fn handle_split_request(&mut self, subtask: usize, ctx: &mut EnumeratorContext<FileSplit>) -> Result<()> {
        self.serve(subtask, ctx);
        Ok(())
    }

    fn add_splits_back(&mut self, splits: Vec<FileSplit>, _subtask: usize) {
        for split in splits.into_iter().rev() {
            self.pending.push_front(split);
        }
    }

    fn discovery_interval(&self) -> Option<Duration> {
        self.continuous
    }

    async fn discover(&mut self, ctx: &mut EnumeratorContext<FileSplit>) -> Result<()> {
        let listed = self.list_new(ctx.replica()).await;
        if self.listing_failures.check("listing the input directory", listed)?.is_none() {
            return Ok(());
        }
        let waiting: Vec<usize> = std::mem::take(&mut self.waiting).into_iter().collect();
        for subtask in waiting {
            self.serve(subtask, ctx);
        }
        Ok(())
    }

    fn snapshot_state(&mut self, _checkpoint_id: u64) -> Result<FileEnumeratorState> {
        Ok(FileEnumeratorState {
            pending: self.pending.iter().cloned().collect(),
            seen: self.seen.iter().map(|(p, m)| (p.clone(), *m)).collect(),
            watermark_ms: self.watermark_ms,
            listed: self.listed,
        })
    }
}

//! Lists the input directory once (bounded) or every discovery interval
//! (continuous) and hands files out on request.
//!
//! Processed-paths policy (continuous mode): the enumerator remembers the paths it
//! has seen whose modification time is within `processed_retention` of the newest
//! modification time seen (the watermark); older files are taken as processed and
//! forgotten, so the state does not grow forever. A file that appears with a
//! modification time older than the watermark minus the retention is not read:
//! move complete files into the directory (write under a hidden name, then rename).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use stream_core::api::{EnumeratorContext, SplitEnumerator};
use stream_core::{Result, StreamError};

use super::split::FileSplit;

pub(crate) type PathFilter = Arc<dyn Fn(&Path) -> bool + Send + Sync>;

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
    pub(crate) root: PathBuf,
    pub(crate) recursive: bool,
    pub(crate) filter: PathFilter,
    pub(crate) continuous: Option<Duration>,
    pub(crate) retention: Duration,
    pending: VecDeque<FileSplit>,
    seen: BTreeMap<PathBuf, u64>,
    watermark_ms: u64,
    listed: bool,
    waiting: BTreeSet<usize>,
}

impl FileEnumerator {
    pub(crate) fn new(
        root: PathBuf,
        recursive: bool,
        filter: PathFilter,
        continuous: Option<Duration>,
        retention: Duration,
        state: FileEnumeratorState,
    ) -> Self {
        FileEnumerator {
            root,
            recursive,
            filter,
            continuous,
            retention,
            pending: state.pending.into(),
            seen: state.seen.into_iter().collect(),
            watermark_ms: state.watermark_ms,
            listed: state.listed,
            waiting: BTreeSet::new(),
        }
    }

    async fn list_new(&mut self) -> Result<()> {
        let (root, recursive, filter) = (self.root.clone(), self.recursive, self.filter.clone());
        let files = tokio::task::spawn_blocking(move || list(&root, recursive, &*filter))
            .await
            .map_err(|e| StreamError::TaskFailed { task: "file listing".into(), message: e.to_string() })??;
        let horizon = self.watermark_ms.saturating_sub(self.retention.as_millis() as u64);
        for (path, modified_ms) in files {
            if self.seen.contains_key(&path) || (self.listed && modified_ms < horizon) {
                continue;
            }
            self.seen.insert(path.clone(), modified_ms);
            self.watermark_ms = self.watermark_ms.max(modified_ms);
            self.pending.push_back(FileSplit::new(path, modified_ms));
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

/// Files under `root` (hidden names starting with `.` or `_` skipped), oldest first.
fn list(root: &Path, recursive: bool, filter: &(dyn Fn(&Path) -> bool + Send + Sync)) -> Result<Vec<(PathBuf, u64)>> {
    let mut found = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).map_err(|e| StreamError::io(&dir, e))? {
            let entry = entry.map_err(|e| StreamError::io(&dir, e))?;
            let name = entry.file_name();
            if name.to_string_lossy().starts_with(['.', '_']) {
                continue;
            }
            let path = entry.path();
            let meta = entry.metadata().map_err(|e| StreamError::io(&path, e))?;
            if meta.is_dir() {
                if recursive {
                    dirs.push(path);
                }
            } else if filter(&path) {
                let modified = meta.modified().ok().and_then(|t| t.duration_since(UNIX_EPOCH).ok());
                found.push((path, modified.map(|d| d.as_millis() as u64).unwrap_or(0)));
            }
        }
    }
    found.sort_by(|a, b| (a.1, &a.0).cmp(&(b.1, &b.0)));
    Ok(found)
}

impl SplitEnumerator for FileEnumerator {
    type Split = FileSplit;
    type State = FileEnumeratorState;

    async fn start(&mut self, _ctx: &mut EnumeratorContext<FileSplit>) -> Result<()> {
        if !self.listed {
            self.list_new().await?;
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
        self.list_new().await?;
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

//! A file split: one file and the reader's position in it.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use stream_core::api::SourceSplit;

/// How a file is compressed, from its extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// Plain file: the position is a byte offset, restores seek.
    None,
    /// `.gz`: restores decompress from the start and skip `lines`.
    Gzip,
    /// `.zst` / `.zstd`: as gzip.
    Zstd,
}

impl Compression {
    /// The compression of `path`.
    pub fn of(path: &Path) -> Compression {
        match path.extension().and_then(|e| e.to_str()) {
            Some("gz") => Compression::Gzip,
            Some("zst" | "zstd") => Compression::Zstd,
            _ => Compression::None,
        }
    }
}

/// One file and how far it was read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileSplit {
    /// The file.
    pub path: PathBuf,
    /// Byte offset of the next line (plain files).
    pub offset: u64,
    /// Lines consumed after the header (used to resume compressed files).
    pub lines: u64,
    /// The file's header line, once read (formats with a header).
    pub header: Option<String>,
    /// Modification time when discovered, in ms since the Unix epoch.
    pub modified_ms: u64,
    /// Size in bytes when discovered.
    #[serde(default)]
    pub size: u64,
    /// Byte range `[start, end)` when a large plain file is split by range (see
    /// `FileSourceBuilder::split_size`): the split reads the lines that begin in it.
    #[serde(default)]
    pub range: Option<(u64, u64)>,
}

impl FileSplit {
    pub(crate) fn new(path: PathBuf, modified_ms: u64, size: u64) -> Self {
        FileSplit { path, offset: 0, lines: 0, header: None, modified_ms, size, range: None }
    }

    /// The splits of a file: one, or one per `split_size` bytes of a plain file.
    pub(crate) fn of_file(path: PathBuf, modified_ms: u64, size: u64, split_size: Option<u64>) -> Vec<Self> {
        let whole = FileSplit::new(path, modified_ms, size);
        match split_size {
            Some(step) if step > 0 && size > step && Compression::of(&whole.path) == Compression::None => (0..size)
                .step_by(step as usize)
                .map(|start| FileSplit {
                    offset: start,
                    range: Some((start, (start + step).min(size))),
                    ..whole.clone()
                })
                .collect(),
            _ => vec![whole],
        }
    }
}

impl SourceSplit for FileSplit {
    fn split_id(&self) -> String {
        match self.range {
            Some((start, _)) => format!("{}@{start}", self.path.display()),
            None => self.path.display().to_string(),
        }
    }
}

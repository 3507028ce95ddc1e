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
}

impl FileSplit {
    pub(crate) fn new(path: PathBuf, modified_ms: u64, size: u64) -> Self {
        FileSplit { path, offset: 0, lines: 0, header: None, modified_ms, size }
    }
}

impl SourceSplit for FileSplit {
    fn split_id(&self) -> String {
        self.path.display().to_string()
    }
}

//! What listing files gives, for local directories and object stores alike.

use std::path::{Path, PathBuf};

/// One listed file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Listed {
    pub path: PathBuf,
    pub modified_ms: u64,
    pub size: u64,
}

/// Whether a file or directory name is hidden (never read: in-progress and pending
/// parts of the sink, `_SUCCESS` markers, dot files).
pub(crate) fn is_hidden(name: &str) -> bool {
    name.starts_with(['.', '_'])
}

pub(crate) type PathFilter = std::sync::Arc<dyn Fn(&Path) -> bool + Send + Sync>;

//! Where files live: a local directory or a prefix in an object store (feature `s3`).
//! The source lists and opens files through this; the sink writes parts through
//! [`crate::sink`]'s part outputs.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use stream_core::{Result, StreamError};

/// A directory of files: local, or a prefix of an object store.
///
/// Local directories convert from paths (`&Path`, `PathBuf`, `&str`, `String`); object
/// stores come from [`Location::object_store`] (feature `s3`).
#[derive(Clone)]
pub enum Location {
    /// A local directory.
    Local(PathBuf),
    /// A prefix in an object store.
    #[cfg(feature = "s3")]
    ObjectStore(crate::object::ObjectLocation),
}

impl std::fmt::Debug for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self}")
    }
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::Local(dir) => write!(f, "{}", dir.display()),
            #[cfg(feature = "s3")]
            Location::ObjectStore(o) => write!(f, "{o}"),
        }
    }
}

impl From<PathBuf> for Location {
    fn from(dir: PathBuf) -> Self {
        Location::Local(dir)
    }
}

impl From<&Path> for Location {
    fn from(dir: &Path) -> Self {
        Location::Local(dir.to_path_buf())
    }
}

impl From<&PathBuf> for Location {
    fn from(dir: &PathBuf) -> Self {
        Location::Local(dir.clone())
    }
}

impl From<&str> for Location {
    fn from(dir: &str) -> Self {
        Location::Local(dir.into())
    }
}

impl From<String> for Location {
    fn from(dir: String) -> Self {
        Location::Local(dir.into())
    }
}

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

impl Location {
    /// The directory, when local.
    pub(crate) fn local_dir(&self) -> Option<&Path> {
        match self {
            Location::Local(dir) => Some(dir),
            #[cfg(feature = "s3")]
            Location::ObjectStore(_) => None,
        }
    }

    /// Files under the location (hidden names skipped, also hidden directories),
    /// oldest first.
    pub(crate) async fn list(&self, recursive: bool, filter: PathFilter) -> Result<Vec<Listed>> {
        let mut found = match self {
            Location::Local(dir) => {
                let dir = dir.clone();
                tokio::task::spawn_blocking(move || list_local(&dir, recursive, &*filter))
                    .await
                    .map_err(|e| StreamError::TaskFailed { task: "file listing".into(), message: e.to_string() })??
            }
            #[cfg(feature = "s3")]
            Location::ObjectStore(o) => o.list(recursive, &*filter).await?,
        };
        found.sort_by(|a, b| (a.modified_ms, &a.path).cmp(&(b.modified_ms, &b.path)));
        Ok(found)
    }

    /// The bytes of `path` from `offset` on, as a blocking reader (read it on a
    /// blocking thread). `size` is the size seen at listing.
    #[cfg_attr(not(feature = "s3"), allow(unused_variables))]
    pub(crate) async fn open(&self, path: &Path, offset: u64, size: u64) -> Result<Box<dyn Read + Send>> {
        match self {
            Location::Local(_) => {
                let path = path.to_path_buf();
                tokio::task::spawn_blocking(move || -> Result<Box<dyn Read + Send>> {
                    use std::io::{Seek, SeekFrom};
                    let mut file = std::fs::File::open(&path).map_err(|e| StreamError::io(&path, e))?;
                    file.seek(SeekFrom::Start(offset)).map_err(|e| StreamError::io(&path, e))?;
                    Ok(Box::new(file))
                })
                .await
                .map_err(|e| StreamError::TaskFailed { task: "file open".into(), message: e.to_string() })?
            }
            #[cfg(feature = "s3")]
            Location::ObjectStore(o) => o.open(path, offset, size).await,
        }
    }
}

fn list_local(root: &Path, recursive: bool, filter: &(dyn Fn(&Path) -> bool + Send + Sync)) -> Result<Vec<Listed>> {
    let mut found = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).map_err(|e| StreamError::io(&dir, e))? {
            let entry = entry.map_err(|e| StreamError::io(&dir, e))?;
            if is_hidden(&entry.file_name().to_string_lossy()) {
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
                let modified_ms = modified.map(|d| d.as_millis() as u64).unwrap_or(0);
                found.push(Listed { path, modified_ms, size: meta.len() });
            }
        }
    }
    Ok(found)
}

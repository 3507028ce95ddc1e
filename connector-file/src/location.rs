//! Where files live: a local directory or a prefix in an object store (feature `s3`).
//! The source lists and opens files through this; the sink writes parts through
//! [`crate::sink`]'s part outputs.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use stream_core::{Result, StreamError};

use crate::listing::{Listed, PathFilter, is_hidden};
#[cfg(feature = "s3")]
use crate::object::ObjectLocation;

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
    ObjectStore(ObjectLocation),
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

impl Location {
    /// Files under `prefix` (`""` for the whole bucket) of an object store, for example
    /// an `object_store::aws::AmazonS3` (re-exported as [`crate::object_store`]).
    ///
    /// ```no_run
    /// # fn main() -> stream_core::Result<()> {
    /// use std::sync::Arc;
    /// use connector_file::object_store::aws::AmazonS3Builder;
    /// use connector_file::{FileSink, FileSource, LineEncoder, Location, TextLines};
    ///
    /// // Region, credentials and endpoint as for any object_store user (environment, or
    /// // with_endpoint("http://127.0.0.1:4566") + with_allow_http(true) for a local server).
    /// let s3 = AmazonS3Builder::from_env().with_bucket_name("my-bucket").build();
    /// let s3 = Arc::new(s3.map_err(stream_core::StreamError::connector)?);
    /// let source = FileSource::builder(Location::object_store(s3.clone(), "input")?, TextLines).build()?;
    /// let sink = FileSink::<String>::builder(Location::object_store(s3, "output")?, LineEncoder).build()?;
    /// # Ok(()) }
    /// ```
    ///
    /// Any store with multipart uploads works, for example the in-memory one:
    ///
    /// ```
    /// use std::sync::Arc;
    /// use connector_file::{Location, object_store::memory::InMemory};
    /// let location = Location::object_store(Arc::new(InMemory::new()), "events/2026").unwrap();
    /// assert!(location.to_string().ends_with("events/2026"));
    /// ```
    #[cfg(feature = "s3")]
    pub fn object_store<S>(store: std::sync::Arc<S>, prefix: &str) -> Result<Location>
    where
        S: object_store::ObjectStore + object_store::multipart::MultipartStore,
    {
        let prefix = object_store::path::Path::parse(prefix.trim_matches('/'))
            .map_err(|e| StreamError::invalid("prefix", prefix, format!("not a valid object key prefix: {e}")))?;
        Ok(Location::ObjectStore(ObjectLocation::new(store, prefix)))
    }

    /// How a failed request to the object store is retried on top of the store's own
    /// retries (default: 200 ms doubling to 2 s, for 60 s); failures on the way only
    /// (lost or refused connections, timeouts, server errors), never a not-found or
    /// a refusal. No effect on a local directory.
    #[cfg(feature = "s3")]
    pub fn store_retry(self, policy: stream_core::retry::RetryPolicy) -> Result<Location> {
        policy.validate("store_retry")?;
        Ok(match self {
            Location::ObjectStore(mut o) => {
                o.retry = policy;
                Location::ObjectStore(o)
            }
            local => local,
        })
    }

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
                    .map_err(|e| StreamError::join_failed("file listing", e))??
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
                .map_err(|e| StreamError::join_failed("file open", e))?
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

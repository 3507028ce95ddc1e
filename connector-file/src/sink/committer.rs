//! Makes pending part files visible: a rename (local) or completing the multipart
//! upload (object store). Both are idempotent.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use stream_core::api::Committer;
use stream_core::{Result, StreamError};

use crate::error::FileError;
use crate::location::Location;

/// A closed part waiting for its checkpoint to complete.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PendingFile {
    /// A local file under its hidden pending name.
    Local {
        /// Hidden pending name.
        pending: PathBuf,
        /// Visible finished name.
        finished: PathBuf,
    },
    /// A multipart upload with every part uploaded, not completed yet.
    Object {
        /// The object key it becomes.
        key: String,
        /// The upload id.
        upload: String,
        /// The ids of its parts, in order.
        parts: Vec<String>,
    },
}

/// Makes pending parts visible.
#[derive(Debug)]
pub struct FileCommitter {
    location: Location,
}

impl FileCommitter {
    pub(crate) fn new(location: Location) -> Self {
        FileCommitter { location }
    }
}

fn commit_local(pending: PathBuf, finished: PathBuf) -> Result<()> {
    if pending.exists() {
        std::fs::rename(&pending, &finished).map_err(|e| StreamError::io(&finished, e))?;
    } else if !finished.exists() {
        return Err(FileError::PendingLost(pending.display().to_string()).into());
    }
    Ok(())
}

impl Committer for FileCommitter {
    type Committable = PendingFile;

    async fn commit(&mut self, files: &[PendingFile]) -> Result<()> {
        for file in files {
            match file.clone() {
                PendingFile::Local { pending, finished } => {
                    tokio::task::spawn_blocking(move || commit_local(pending, finished))
                        .await
                        .map_err(|e| StreamError::join_failed("file commit", e))??
                }
                PendingFile::Object { key, upload, parts } => match &self.location {
                    #[cfg(feature = "s3")]
                    Location::ObjectStore(o) => o.complete(&key, &upload, &parts).await?,
                    _ => {
                        let _ = (upload, parts);
                        return Err(StreamError::invalid(
                            "committable",
                            key,
                            "an object-store part restored into a sink on a local directory",
                        ));
                    }
                },
            }
        }
        Ok(())
    }
}

//! Makes pending part files visible: a rename, idempotent.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use stream_core::api::Committer;
use stream_core::{Result, StreamError};

/// A closed part file waiting for its checkpoint to complete.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingFile {
    /// Hidden pending name.
    pub pending: PathBuf,
    /// Visible finished name.
    pub finished: PathBuf,
}

/// Renames pending files to their finished names.
#[derive(Debug)]
pub struct FileCommitter;

impl Committer for FileCommitter {
    type Committable = PendingFile;

    async fn commit(&mut self, files: &[PendingFile]) -> Result<()> {
        let files = files.to_vec();
        tokio::task::spawn_blocking(move || {
            for file in files {
                if file.pending.exists() {
                    std::fs::rename(&file.pending, &file.finished).map_err(|e| StreamError::io(&file.finished, e))?;
                } else if !file.finished.exists() {
                    // Neither pending nor finished: the data is gone.
                    return Err(StreamError::io(
                        &file.pending,
                        std::io::Error::other("pending part file missing and not committed (data lost)"),
                    ));
                }
            }
            Ok(())
        })
        .await
        .map_err(|e| StreamError::TaskFailed { task: "file commit".into(), message: e.to_string() })?
    }
}

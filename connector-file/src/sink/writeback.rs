//! A local part's bytes flushed to disk in the background, ahead of the fsync at its
//! checkpoint: that fsync holds the pipeline, and without this the disk stayed idle
//! while records were written to the page cache, then wrote everything during it.
//! A failed background flush is never lost: the checkpoint's fsync raises it (after a
//! failed fsync Linux may mark the pages clean, so a later fsync would succeed).

use std::fs::File;
use std::path::Path;

use stream_core::{Result, StreamError};
use tokio::task::JoinHandle;

/// Bytes written to a part between two background flushes.
const WRITEBACK_BYTES: u64 = 32 * 1024 * 1024;

/// The background flushes of one local part.
#[derive(Default)]
pub(crate) struct Writeback {
    running: Option<JoinHandle<Result<()>>>,
    /// Written since the last flush started.
    unflushed: u64,
    failed: Option<StreamError>,
}

impl Writeback {
    /// `bytes` more were written to `file`: flush in the background every
    /// [`WRITEBACK_BYTES`].
    pub(crate) fn written(&mut self, bytes: u64, file: &File, path: &Path) {
        self.unflushed += bytes;
        if self.unflushed >= WRITEBACK_BYTES {
            self.start(file, path);
        }
    }

    /// Flush what was written so far in the background, unless a flush is running.
    pub(crate) fn start(&mut self, file: &File, path: &Path) {
        if self.unflushed == 0 || self.running.as_ref().is_some_and(|flush| !flush.is_finished()) {
            return;
        }
        let file = match file.try_clone() {
            Ok(file) => file,
            Err(e) => return self.keep(Err(StreamError::io(path, e))),
        };
        let path = path.to_path_buf();
        // The new flush carries the finished one's result along.
        let finished = self.running.take();
        self.running = Some(tokio::spawn(async move {
            let earlier = match finished {
                Some(flush) => flattened(flush.await),
                None => Ok(()),
            };
            let flush = tokio::task::spawn_blocking(move || file.sync_data().map_err(|e| StreamError::io(&path, e)));
            earlier.and(flattened(flush.await))
        }));
        self.unflushed = 0;
    }

    /// Wait for the running flush; the first failure of any flush, if one failed.
    /// The caller fsyncs the whole file next, so the next background flush comes
    /// [`WRITEBACK_BYTES`] after it.
    pub(crate) async fn finish(&mut self) -> Result<()> {
        self.unflushed = 0;
        if let Some(running) = self.running.take() {
            self.keep(flattened(running.await));
        }
        self.failed.take().map_or(Ok(()), Err)
    }

    fn keep(&mut self, flushed: Result<()>) {
        if let Err(e) = flushed {
            self.failed.get_or_insert(e);
        }
    }
}

fn flattened(joined: std::result::Result<Result<()>, tokio::task::JoinError>) -> Result<()> {
    joined.map_err(|e| StreamError::join_failed("file writeback", e))?
}

#[cfg(test)]
mod tests {
    use super::*;

    /// fsync of a character device fails (EINVAL): a flush that fails.
    fn failing() -> (File, &'static Path) {
        let path = Path::new("/dev/null");
        (std::fs::OpenOptions::new().write(true).open(path).unwrap(), path)
    }

    #[tokio::test]
    async fn a_failed_background_flush_is_raised_by_finish() {
        let (file, path) = failing();
        let mut writeback = Writeback::default();
        writeback.written(WRITEBACK_BYTES - 1, &file, path);
        assert!(writeback.running.is_none(), "no flush below the threshold");
        writeback.written(1, &file, path);
        let err = writeback.finish().await.unwrap_err().to_string();
        assert!(err.contains("/dev/null"), "{err}");
        writeback.finish().await.unwrap();
    }

    #[tokio::test]
    async fn a_failure_is_kept_when_the_next_flush_starts() {
        let (file, path) = failing();
        let mut writeback = Writeback::default();
        writeback.written(WRITEBACK_BYTES, &file, path);
        while !writeback.running.as_ref().is_some_and(|flush| flush.is_finished()) {
            tokio::task::yield_now().await;
        }
        // The first flush failed and finished; the second one starts after it.
        let (file, path) = (tempfile::tempfile().unwrap(), Path::new("a temporary file"));
        writeback.written(WRITEBACK_BYTES, &file, path);
        let err = writeback.finish().await.unwrap_err().to_string();
        assert!(err.contains("/dev/null"), "{err}");
    }

    #[tokio::test]
    async fn flushes_that_succeed_finish_cleanly() {
        let file = tempfile::tempfile().unwrap();
        let mut writeback = Writeback::default();
        writeback.written(WRITEBACK_BYTES, &file, Path::new("tmp"));
        writeback.start(&file, Path::new("tmp"));
        writeback.finish().await.unwrap();
    }
}

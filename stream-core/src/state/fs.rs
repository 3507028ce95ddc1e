//! Filesystem state backend: one file per checkpoint, written atomically
//! (temp file, fsync, rename, fsync of the directory), checksummed, last N kept.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::{CheckpointData, StateBackend, envelope};
use crate::error::{Result, StreamError};

const PREFIX: &str = "chk-";
const SUFFIX: &str = ".ckpt";

/// Stores checkpoints as files in a directory. A new job on the same directory
/// resumes from its newest intact checkpoint (like a Flink savepoint).
#[derive(Debug, Clone)]
pub struct FsStateBackend {
    dir: PathBuf,
    retained: usize,
}

impl FsStateBackend {
    /// Use `dir` (created if missing), keeping the last 3 checkpoints. Fails with an
    /// error naming the directory when it cannot be created or written.
    pub fn new(dir: impl Into<PathBuf>) -> Result<Self> {
        let dir = dir.into();
        fs::create_dir_all(&dir).map_err(|e| StreamError::io(&dir, e))?;
        // A name of its own: several jobs may open one directory at once (the replicas
        // of a rescaled job read the same savepoints).
        let probe = dir.join(format!(".write-probe-{}-{:08x}", std::process::id(), fastrand::u32(..)));
        File::create(&probe).and_then(|mut f| f.write_all(b"ok")).map_err(|e| StreamError::io(&probe, e))?;
        fs::remove_file(&probe).map_err(|e| StreamError::io(&probe, e))?;
        Ok(FsStateBackend { dir, retained: 3 })
    }

    /// Keep the newest `n` checkpoints (at least 1; 2 or more lets a corrupt newest
    /// file fall back to the previous one).
    pub fn retain(mut self, n: usize) -> Result<Self> {
        if n == 0 {
            return Err(StreamError::invalid("retain", 0, "at least one checkpoint must be kept"));
        }
        self.retained = n;
        Ok(self)
    }

    /// The checkpoint directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path_of(&self, id: u64) -> PathBuf {
        self.dir.join(format!("{PREFIX}{id:020}{SUFFIX}"))
    }

    /// Checkpoint files present, newest first.
    fn list(&self) -> Result<Vec<(u64, PathBuf)>> {
        let mut found = Vec::new();
        for entry in fs::read_dir(&self.dir).map_err(|e| StreamError::io(&self.dir, e))? {
            let entry = entry.map_err(|e| StreamError::io(&self.dir, e))?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            let id = name.strip_prefix(PREFIX).and_then(|rest| rest.strip_suffix(SUFFIX));
            if let Some(id) = id.and_then(|id| id.parse::<u64>().ok()) {
                found.push((id, entry.path()));
            }
        }
        found.sort_by_key(|(id, _)| std::cmp::Reverse(*id));
        Ok(found)
    }
}

fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(|e| StreamError::io(dir, e))
}

impl StateBackend for FsStateBackend {
    fn store(&self, checkpoint: &CheckpointData) -> Result<u64> {
        let bytes = envelope::encode(checkpoint).map_err(|e| StreamError::state("checkpoint", e))?;
        let target = self.path_of(checkpoint.id);
        let tmp = self.dir.join(format!(".{PREFIX}{:020}.tmp", checkpoint.id));
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)
            .map_err(|e| StreamError::io(&tmp, e))?;
        file.write_all(&bytes).map_err(|e| StreamError::io(&tmp, e))?;
        file.sync_all().map_err(|e| StreamError::io(&tmp, e))?;
        drop(file);
        fs::rename(&tmp, &target).map_err(|e| StreamError::io(&target, e))?;
        sync_dir(&self.dir)?;
        for (_, old) in self.list()?.into_iter().skip(self.retained) {
            if let Err(e) = fs::remove_file(&old) {
                tracing::warn!(path = %old.display(), error = %e, "could not delete an old checkpoint");
            }
        }
        Ok(bytes.len() as u64)
    }

    fn latest(&self) -> Result<Option<CheckpointData>> {
        for (id, path) in self.list()? {
            let bytes = match fs::read(&path) {
                Ok(bytes) => bytes,
                Err(e) => {
                    tracing::error!(checkpoint = id, path = %path.display(), error = %e,
                        "checkpoint unreadable; falling back to the previous one");
                    continue;
                }
            };
            match envelope::decode_as(&bytes, id) {
                Ok(data) => return Ok(Some(data)),
                Err(reason) => tracing::error!(checkpoint = id, path = %path.display(), %reason,
                    "checkpoint is unusable; falling back to the previous one"),
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn checkpoint(id: u64) -> CheckpointData {
        let mut tasks = BTreeMap::new();
        tasks.insert(
            "1-count/0".to_string(),
            crate::state::StateBlob::encode("t", &serde_json::json!({"id": id})).unwrap(),
        );
        CheckpointData { id, timestamp_ms: id * 10, enumerator: None, tasks }
    }

    #[test]
    fn stores_atomically_and_keeps_the_last_n() {
        let dir = tempfile::tempdir().unwrap();
        let backend = FsStateBackend::new(dir.path()).unwrap().retain(2).unwrap();
        for id in 1..=4 {
            assert!(backend.store(&checkpoint(id)).unwrap() > 20);
        }
        assert_eq!(backend.latest().unwrap().unwrap().id, 4);
        let ids: Vec<u64> = backend.list().unwrap().into_iter().map(|(id, _)| id).collect();
        assert_eq!(ids, vec![4, 3]);
        let leftovers: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty());
    }

    #[test]
    fn corrupt_or_half_written_newest_falls_back_to_previous() {
        let dir = tempfile::tempdir().unwrap();
        let backend = FsStateBackend::new(dir.path()).unwrap();
        backend.store(&checkpoint(1)).unwrap();
        backend.store(&checkpoint(2)).unwrap();
        backend.store(&checkpoint(3)).unwrap();
        // Half-written newest.
        let newest = backend.path_of(3);
        let bytes = fs::read(&newest).unwrap();
        fs::write(&newest, &bytes[..bytes.len() / 2]).unwrap();
        assert_eq!(backend.latest().unwrap().unwrap().id, 2);
        // Bit flip in the next one.
        let second = backend.path_of(2);
        let mut bytes = fs::read(&second).unwrap();
        let at = bytes.len() - 4;
        bytes[at] ^= 0x20;
        fs::write(&second, &bytes).unwrap();
        assert_eq!(backend.latest().unwrap().unwrap().id, 1);
    }

    #[test]
    fn unwritable_directory_is_rejected_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a-file");
        fs::write(&file, b"x").unwrap();
        let bad = file.join("checkpoints");
        let err = FsStateBackend::new(&bad).unwrap_err();
        assert!(err.to_string().contains(&bad.display().to_string()), "{err}");
    }
}

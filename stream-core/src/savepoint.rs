//! Savepoints: the final checkpoint of a job stopped with
//! [`JobHandle::stop_with_savepoint`](crate::JobHandle::stop_with_savepoint), copied
//! into a directory of its own, and the choice of what a starting job restores.

use std::path::Path;

use crate::error::{Result, StreamError};
use crate::state::{CheckpointData, FsStateBackend, StateBackend};

/// Copy the newest checkpoint of `backend` into `dir` (as an [`FsStateBackend`]
/// directory holding it alone).
pub(crate) fn write(backend: &dyn StateBackend, dir: &Path) -> Result<u64> {
    let checkpoint = backend.latest()?.ok_or_else(|| {
        StreamError::invalid("savepoint", dir.display(), "the job ended without a completed checkpoint to save")
    })?;
    FsStateBackend::new(dir)?.retain(1)?.store(&checkpoint)?;
    Ok(checkpoint.id)
}

/// The savepoint in `dir`, read once when a job starts; a missing or empty
/// directory is named.
pub(crate) fn read(dir: &Path) -> Result<CheckpointData> {
    if !dir.is_dir() {
        return Err(StreamError::invalid("resume_from", dir.display(), "no such directory; give a savepoint's"));
    }
    FsStateBackend::new(dir)?.latest()?.ok_or_else(|| {
        StreamError::invalid("resume_from", dir.display(), "holds no intact savepoint (see the error log)")
    })
}

/// The checkpoint an attempt restores, and whether it is `saved`: the newest in
/// `backend`, or `saved` (the savepoint the job was started from) when it is newer
/// (a job resumed from a savepoint into a fresh checkpoint directory; once it has
/// checkpointed, its own checkpoints win).
pub(crate) fn restore_point(
    backend: &dyn StateBackend,
    saved: Option<&CheckpointData>,
) -> Result<Option<(CheckpointData, bool)>> {
    let latest = backend.latest()?;
    Ok(match (latest, saved) {
        (Some(checkpoint), Some(saved)) if checkpoint.id < saved.id => Some((saved.clone(), true)),
        (None, Some(saved)) => Some((saved.clone(), true)),
        (latest, _) => latest.map(|checkpoint| (checkpoint, false)),
    })
}

/// What a job starts from, read once when it starts: the savepoint in `resume_from`,
/// or the old replicas' last states of `rescale`, merged into one (see
/// [`crate::rescale`]); the builder allows one of them at most.
pub(crate) fn read_saved(
    resume_from: Option<&Path>,
    rescale: Option<&crate::rescale::Rescale>,
) -> Result<Option<CheckpointData>> {
    if let Some(dir) = resume_from {
        return read(dir).map(Some);
    }
    let Some(rescale) = rescale else { return Ok(None) };
    let savepoints = rescale.old.iter().map(|replica| replica.read()).collect::<Result<Vec<_>>>()?;
    Ok(Some(crate::rescale::merge(savepoints)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::MemoryStateBackend;
    use std::collections::BTreeMap;

    fn checkpoint(id: u64) -> CheckpointData {
        CheckpointData { id, timestamp_ms: 0, enumerator: None, tasks: BTreeMap::new() }
    }

    #[test]
    fn the_newer_of_the_savepoint_and_the_backend_is_restored() {
        let dir = tempfile::tempdir().unwrap();
        let old = MemoryStateBackend::new();
        old.store(&checkpoint(7)).unwrap();
        assert_eq!(write(&old, dir.path()).unwrap(), 7);
        let saved = read(dir.path()).unwrap();
        let fresh = MemoryStateBackend::new();
        assert_eq!(restore_point(&fresh, Some(&saved)).unwrap().unwrap().0.id, 7);
        fresh.store(&checkpoint(8)).unwrap();
        assert_eq!(restore_point(&fresh, Some(&saved)).unwrap().unwrap().0.id, 8);
        assert_eq!(restore_point(&fresh, None).unwrap().unwrap().0.id, 8);
    }

    #[test]
    fn a_missing_or_empty_savepoint_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope");
        let err = read(&missing).unwrap_err();
        assert!(err.to_string().contains("nope") && err.is_permanent(), "{err}");
        let err = read(dir.path()).unwrap_err();
        assert!(err.to_string().contains("no intact savepoint"), "{err}");
        let err = write(&MemoryStateBackend::new(), dir.path()).unwrap_err();
        assert!(err.to_string().contains("without a completed checkpoint"), "{err}");
    }
}

//! Where the bytes of one part go while it is in progress: a hidden local file, or a
//! multipart upload (feature `s3`). A part may stay in progress across checkpoints
//! (Flink's recoverable writer): at each one it is persisted — a local file fsynced
//! and its length recorded; an upload's parts and the bytes not uploaded yet recorded
//! — and a restore resumes it there, truncating a local file to that length. Closing
//! a part makes it pending: the file fsynced under its in-progress name, or the
//! upload with every part uploaded but not completed.

use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use stream_core::{Result, StreamError};

use super::committer::PendingFile;
use super::writeback::Writeback;
use crate::error::FileError;
use crate::location::Location;

/// Hidden in-progress name of a local part opened after checkpoint `after` (0: before
/// the first). No checkpoint up to `after` can hold it, so a restore from checkpoint
/// `r <= after` deletes it.
pub(crate) fn in_progress(dir: &Path, bucket: &str, name: &str, after: u64) -> PathBuf {
    dir.join(bucket).join(format!(".{name}.cp{after}.inprogress"))
}

/// The checkpoint after which the in-progress file `file_name` was opened, for names
/// made by [`in_progress`].
pub(crate) fn opened_after(file_name: &str) -> Option<u64> {
    let rest = file_name.strip_suffix(".inprogress")?;
    let (_, after) = rest.rsplit_once(".cp")?;
    after.parse().ok()
}

/// How an in-progress part is resumed after a restore (part of the writer's state).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ResumablePart {
    /// A local file: the bytes up to `length` were fsynced at the checkpoint.
    Local {
        /// Its hidden in-progress path.
        path: PathBuf,
        /// The name it gets when committed.
        finished: PathBuf,
        /// Its length at the checkpoint.
        length: u64,
    },
    /// A multipart upload: the parts uploaded by the checkpoint, and the bytes after
    /// them that were not uploaded yet (less than one part).
    Object {
        /// The object key it becomes.
        key: String,
        /// The upload id.
        upload: String,
        /// The ids of its uploaded parts, in order.
        parts: Vec<String>,
        /// Bytes written after the last uploaded part.
        #[serde(with = "serde_bytes")]
        tail: Vec<u8>,
    },
}

/// The open output of one part.
pub(crate) enum PartOutput {
    Local {
        file: File,
        path: PathBuf,
        finished: PathBuf,
        /// The directory entry is durable (fsynced once).
        entry_synced: bool,
        writeback: Writeback,
    },
    #[cfg(feature = "s3")]
    Object(ObjectPart),
}

#[cfg(feature = "s3")]
pub(crate) struct ObjectPart {
    location: crate::object::ObjectLocation,
    key: object_store::path::Path,
    upload: String,
    parts: Vec<String>,
    buffer: Vec<u8>,
    part_size: usize,
}

/// Fsync `file`, and the directory holding it unless that was done before.
async fn sync(file: &File, path: &Path, entry_synced: bool) -> Result<()> {
    let (file, path) = (file.try_clone().map_err(|e| StreamError::io(path, e))?, path.to_path_buf());
    tokio::task::spawn_blocking(move || {
        file.sync_data().map_err(|e| StreamError::io(&path, e))?;
        if !entry_synced && let Some(dir) = path.parent() {
            File::open(dir).and_then(|d| d.sync_all()).map_err(|e| StreamError::io(dir, e))?;
        }
        Ok(())
    })
    .await
    .map_err(|e| StreamError::join_failed("file sync", e))?
}

impl PartOutput {
    /// Open `<bucket>/<name>` in progress, opened after checkpoint `after`.
    #[cfg_attr(not(feature = "s3"), allow(unused_variables))]
    pub(crate) async fn create(
        location: &Location,
        bucket: &str,
        name: &str,
        after: u64,
        part_size: usize,
    ) -> Result<PartOutput> {
        match location {
            Location::Local(dir) => {
                let bucket_dir = dir.join(bucket);
                std::fs::create_dir_all(&bucket_dir).map_err(|e| StreamError::io(&bucket_dir, e))?;
                let path = in_progress(dir, bucket, name, after);
                let file = OpenOptions::new()
                    .create(true)
                    .write(true)
                    .truncate(true)
                    .open(&path)
                    .map_err(|e| StreamError::io(&path, e))?;
                Ok(PartOutput::Local {
                    file,
                    path,
                    finished: bucket_dir.join(name),
                    entry_synced: false,
                    writeback: Writeback::default(),
                })
            }
            #[cfg(feature = "s3")]
            Location::ObjectStore(o) => {
                let key = o.key(bucket, name);
                let upload = o.start_upload(&key).await?;
                Ok(PartOutput::Object(ObjectPart {
                    location: o.clone(),
                    key,
                    upload,
                    parts: Vec::new(),
                    buffer: Vec::new(),
                    part_size,
                }))
            }
        }
    }

    /// Open a part again where a checkpoint left it.
    #[cfg_attr(not(feature = "s3"), allow(unused_variables))]
    pub(crate) async fn resume(location: &Location, state: ResumablePart, part_size: usize) -> Result<PartOutput> {
        match (location, state) {
            (Location::Local(_), ResumablePart::Local { path, finished, length }) => {
                tokio::task::spawn_blocking(move || {
                    let mut file = match OpenOptions::new().write(true).open(&path) {
                        Ok(file) => file,
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                            return Err(FileError::InProgressLost(path.display().to_string()).into());
                        }
                        Err(e) => return Err(StreamError::io(&path, e)),
                    };
                    // What a failed attempt wrote after the checkpoint goes.
                    file.set_len(length).map_err(|e| StreamError::io(&path, e))?;
                    file.seek(SeekFrom::End(0)).map_err(|e| StreamError::io(&path, e))?;
                    Ok(PartOutput::Local { file, path, finished, entry_synced: true, writeback: Writeback::default() })
                })
                .await
                .map_err(|e| StreamError::join_failed("file resume", e))?
            }
            #[cfg(feature = "s3")]
            (Location::ObjectStore(o), ResumablePart::Object { key, upload, parts, tail }) => {
                // Parts a failed attempt uploaded after the checkpoint are replaced
                // (same numbers) or left out of the completion.
                Ok(PartOutput::Object(ObjectPart {
                    location: o.clone(),
                    key: crate::object::ObjectLocation::parse(&key)?,
                    upload,
                    parts,
                    buffer: tail,
                    part_size,
                }))
            }
            (location, state) => Err(StreamError::invalid(
                "writer state",
                format!("{state:?}"),
                format!("an in-progress part of another kind of location restored into a sink on {location}"),
            )),
        }
    }

    /// Append `bytes`.
    pub(crate) async fn write(&mut self, bytes: &[u8]) -> Result<()> {
        match self {
            PartOutput::Local { file, path, writeback, .. } => {
                file.write_all(bytes).map_err(|e| StreamError::io(&*path, e))?;
                writeback.written(bytes.len() as u64, file, path);
                Ok(())
            }
            #[cfg(feature = "s3")]
            PartOutput::Object(part) => {
                part.buffer.extend_from_slice(bytes);
                if part.buffer.len() >= part.part_size {
                    part.upload_buffer().await?;
                }
                Ok(())
            }
        }
    }

    /// A local part starts flushing what it holds to disk in the background (it
    /// rolled: its checkpoint's fsync comes next).
    pub(crate) fn start_writeback(&mut self) {
        match self {
            PartOutput::Local { file, path, writeback, .. } => writeback.start(file, path),
            #[cfg(feature = "s3")]
            PartOutput::Object(_) => {}
        }
    }

    /// Make what was written durable, and say how to resume it there (`length`:
    /// the bytes written to the part so far).
    pub(crate) async fn persist(&mut self, length: u64) -> Result<ResumablePart> {
        match self {
            PartOutput::Local { file, path, finished, entry_synced, writeback } => {
                writeback.finish().await?;
                sync(file, path, *entry_synced).await?;
                *entry_synced = true;
                Ok(ResumablePart::Local { path: path.clone(), finished: finished.clone(), length })
            }
            #[cfg(feature = "s3")]
            PartOutput::Object(part) => Ok(ResumablePart::Object {
                key: part.key.to_string(),
                upload: part.upload.clone(),
                parts: part.parts.clone(),
                tail: part.buffer.clone(),
            }),
        }
    }

    /// Close the part: it becomes pending.
    pub(crate) async fn close(self) -> Result<PendingFile> {
        match self {
            PartOutput::Local { file, path, finished, entry_synced, mut writeback } => {
                writeback.finish().await?;
                sync(&file, &path, entry_synced).await?;
                Ok(PendingFile::Local { pending: path, finished })
            }
            #[cfg(feature = "s3")]
            PartOutput::Object(mut part) => {
                if !part.buffer.is_empty() || part.parts.is_empty() {
                    part.upload_buffer().await?;
                }
                Ok(PendingFile::Object { key: part.key.to_string(), upload: part.upload, parts: part.parts })
            }
        }
    }
}

#[cfg(feature = "s3")]
impl ObjectPart {
    async fn upload_buffer(&mut self) -> Result<()> {
        let data = std::mem::take(&mut self.buffer);
        let id = self.location.upload_part(&self.key, &self.upload, self.parts.len(), data).await?;
        self.parts.push(id);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_progress_names_carry_the_checkpoint_they_were_opened_after() {
        let path = in_progress(Path::new("/d"), "b", "part-x-0-3.jsonl", 42);
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        assert_eq!(name, ".part-x-0-3.jsonl.cp42.inprogress");
        assert_eq!(opened_after(&name), Some(42));
        assert_eq!(opened_after(".part-x-0-3.jsonl.inprogress"), None, "names of earlier versions");
        assert_eq!(opened_after(".part-x-0-3.jsonl.pending-cp4"), None);
    }
}

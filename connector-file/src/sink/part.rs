//! Where the bytes of one part go while it is in progress: a hidden local file, or a
//! multipart upload (feature `s3`). Closing a part makes it pending: a fsynced local
//! file under a pending name, or an upload with every part uploaded but not completed.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use stream_core::{Result, StreamError};

use super::committer::PendingFile;
use crate::location::Location;

/// Hidden in-progress name of a local part.
pub(crate) fn in_progress(dir: &Path, bucket: &str, name: &str) -> PathBuf {
    dir.join(bucket).join(format!(".{name}.inprogress"))
}

/// The open output of one part.
pub(crate) enum PartOutput {
    Local {
        file: File,
        dir: PathBuf,
        bucket: String,
        name: String,
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

impl PartOutput {
    /// Open `<bucket>/<name>` in progress.
    #[cfg_attr(not(feature = "s3"), allow(unused_variables))]
    pub(crate) async fn create(location: &Location, bucket: &str, name: &str, part_size: usize) -> Result<PartOutput> {
        match location {
            Location::Local(dir) => {
                let bucket_dir = dir.join(bucket);
                std::fs::create_dir_all(&bucket_dir).map_err(|e| StreamError::io(&bucket_dir, e))?;
                let path = in_progress(dir, bucket, name);
                let file = OpenOptions::new()
                    .create(true)
                    .write(true)
                    .truncate(true)
                    .open(&path)
                    .map_err(|e| StreamError::io(&path, e))?;
                Ok(PartOutput::Local { file, dir: dir.clone(), bucket: bucket.into(), name: name.into() })
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

    /// Append `bytes`.
    pub(crate) async fn write(&mut self, bytes: &[u8]) -> Result<()> {
        match self {
            PartOutput::Local { file, dir, bucket, name } => {
                file.write_all(bytes).map_err(|e| StreamError::io(in_progress(dir, bucket, name), e))
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

    /// Close the part: it becomes pending for `checkpoint_id`.
    pub(crate) async fn close(self, checkpoint_id: u64) -> Result<PendingFile> {
        match self {
            PartOutput::Local { file, dir, bucket, name } => tokio::task::spawn_blocking(move || {
                let from = in_progress(&dir, &bucket, &name);
                file.sync_all().map_err(|e| StreamError::io(&from, e))?;
                let bucket_dir = dir.join(&bucket);
                let to = bucket_dir.join(format!(".{name}.pending-cp{checkpoint_id}"));
                std::fs::rename(&from, &to).map_err(|e| StreamError::io(&to, e))?;
                File::open(&bucket_dir).and_then(|d| d.sync_all()).map_err(|e| StreamError::io(&bucket_dir, e))?;
                Ok(PendingFile::Local { pending: to, finished: bucket_dir.join(&name) })
            })
            .await
            .map_err(|e| StreamError::TaskFailed { task: "file pre-commit".into(), message: e.to_string() })?,
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

//! Object storage (feature `s3`): listing and ranged reads for the source, multipart
//! uploads for the sink (an upload is the in-progress part, completed on commit).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures::{StreamExt, TryStreamExt};
use object_store::multipart::{MultipartStore, PartId};
use object_store::path::Path as ObjectPath;
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt, PutPayload};
use std::future::Future;
use std::time::Duration;

use stream_core::Result;
use stream_core::retry::RetryPolicy;

use crate::error::FileError;
use crate::listing::{Listed, is_hidden};

/// The body of one object read, opened again where it broke when the connection
/// under it fails: object_store resumes a broken body itself, but gives up after
/// about a second of refused connections.
struct Resuming {
    location: ObjectLocation,
    key: ObjectPath,
    /// The ETag of the object first read: a reopened read must get the same version.
    version: Option<String>,
    body: Option<futures::stream::BoxStream<'static, std::result::Result<bytes::Bytes, object_store::Error>>>,
    /// The offset of the next byte.
    position: u64,
    size: u64,
    /// Failures since bytes last arrived, under `store_retry`.
    backoff: stream_core::retry::Backoff,
    ended: bool,
}

impl Resuming {
    /// The next chunk of the body, or its error (after which the stream ends).
    async fn next(mut self) -> Option<(std::io::Result<bytes::Bytes>, Resuming)> {
        while !self.ended && self.position < self.size {
            let body = match self.body.as_mut() {
                Some(body) => body,
                None => match self.location.get_from(&self.key, self.position, self.version.as_ref()).await {
                    Ok(result) => self.body.insert(result.into_stream()),
                    Err(e) => {
                        let error = store_error("read", &self.key, e);
                        return self.fail(error);
                    }
                },
            };
            let error = match body.next().await {
                Some(Ok(bytes)) => {
                    self.position += bytes.len() as u64;
                    self.backoff.reset();
                    return Some((Ok(bytes), self));
                }
                Some(Err(e)) if transient(&e) => e.to_string(),
                Some(Err(e)) => {
                    let error = store_error("read", &self.key, e);
                    return self.fail(error);
                }
                None => format!("the body ended at byte {} of {}", self.position, self.size),
            };
            self.body = None;
            match self.backoff.next_delay() {
                Some(delay) => {
                    tracing::warn!(key = %self.key, at = self.position, %error, ?delay, "object read broke; opening it again there");
                    tokio::time::sleep(delay).await;
                }
                None => {
                    let message = format!("{error}; still failing when the location's store_retry policy gave up");
                    let key = self.key.to_string();
                    return self.fail(FileError::ObjectStore { operation: "read", location: key, message });
                }
            }
        }
        None
    }

    fn fail(mut self, error: FileError) -> Option<(std::io::Result<bytes::Bytes>, Resuming)> {
        self.ended = true;
        Some((Err(std::io::Error::other(error)), self))
    }
}

/// A prefix in an object store (see [`crate::Location::object_store`]).
#[derive(Clone)]
pub struct ObjectLocation {
    store: Arc<dyn ObjectStore>,
    multipart: Arc<dyn MultipartStore>,
    prefix: ObjectPath,
    pub(crate) retry: RetryPolicy,
}

/// The default of [`crate::Location::store_retry`]: 200 ms doubling to 2 s, for 60 s.
fn default_retry() -> RetryPolicy {
    RetryPolicy::exponential(Duration::from_millis(200), Duration::from_secs(2)).give_up_after(Duration::from_secs(60))
}

/// A failure on the way (a lost or refused connection, a timeout, a 5xx the store
/// kept answering): object_store gives up on some of these after one retry (a
/// request whose body was sent), so the connector retries them too. Read from the
/// error's variant: everything the store answered with a meaning (not found,
/// exists, precondition, permission, ...) is not retried.
fn transient(error: &object_store::Error) -> bool {
    matches!(error, object_store::Error::Generic { .. })
}

impl std::fmt::Display for ObjectLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The store's Display names the bucket, never credentials.
        write!(f, "{}/{}", self.store, self.prefix)
    }
}

fn store_error(operation: &'static str, location: impl std::fmt::Display, error: object_store::Error) -> FileError {
    let message = if transient(&error) {
        format!("{error}; still failing when the location's store_retry policy gave up")
    } else {
        error.to_string()
    };
    FileError::ObjectStore { operation, location: location.to_string(), message }
}

impl ObjectLocation {
    /// The prefix `prefix` (already parsed) of `store`.
    pub(crate) fn new<S: ObjectStore + MultipartStore>(store: Arc<S>, prefix: ObjectPath) -> Self {
        ObjectLocation { store: store.clone(), multipart: store, prefix, retry: default_retry() }
    }

    /// `call` until it succeeds, fails for good, or `store_retry` gives up.
    async fn retrying<T, F, Fut>(&self, what: &str, call: F) -> std::result::Result<T, object_store::Error>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = std::result::Result<T, object_store::Error>>,
    {
        self.retry.retry(what, call, transient).await
    }

    /// The key of `name` in `bucket` (a sub-"directory"; empty for none).
    pub(crate) fn key(&self, bucket: &str, name: &str) -> ObjectPath {
        let in_bucket = if bucket.is_empty() { self.prefix.clone() } else { self.prefix.clone().join(bucket) };
        in_bucket.join(name)
    }

    /// A key as listed or recorded in a committable (already in the store's encoding).
    pub(crate) fn parse(key: &str) -> Result<ObjectPath> {
        ObjectPath::parse(key)
            .map_err(|e| stream_core::StreamError::invalid("object key", key, format!("not a valid object key: {e}")))
    }

    /// Objects under the prefix whose key parts below it are not hidden.
    pub(crate) async fn list(
        &self,
        recursive: bool,
        filter: &(dyn Fn(&Path) -> bool + Send + Sync),
    ) -> Result<Vec<Listed>> {
        let prefix = (!self.prefix.as_ref().is_empty()).then_some(&self.prefix);
        let metas = if recursive {
            self.store.list(prefix).try_collect::<Vec<_>>().await
        } else {
            self.store.list_with_delimiter(prefix).await.map(|r| r.objects)
        }
        .map_err(|e| store_error("list", self, e))?;
        let depth = self.prefix.parts().count();
        let mut found = Vec::new();
        for meta in metas {
            if meta.location.parts().skip(depth).any(|p| is_hidden(p.as_ref())) {
                continue;
            }
            let path = PathBuf::from(meta.location.as_ref());
            if filter(&path) {
                let modified_ms = meta.last_modified.timestamp_millis().max(0) as u64;
                found.push(Listed { path, modified_ms, size: meta.size });
            }
        }
        Ok(found)
    }

    /// The object `path` from `offset` on, streamed (a blocking reader over the async
    /// body: use it on a blocking thread). A read broken on the way (a lost
    /// connection whose retries object_store used up) opens the object again where
    /// it broke, the same version of it (by ETag), under `store_retry`.
    pub(crate) async fn open(&self, path: &Path, offset: u64, size: u64) -> Result<Box<dyn Read + Send>> {
        if offset >= size {
            return Ok(Box::new(std::io::empty()));
        }
        let key = Self::parse(&path.to_string_lossy())?;
        let first = self.get_from(&key, offset, None).await.map_err(|e| store_error("read", &key, e))?;
        let resuming = Resuming {
            location: self.clone(),
            version: first.meta.e_tag.clone(),
            body: Some(first.into_stream()),
            key,
            position: offset,
            size,
            backoff: self.retry.backoff(),
            ended: false,
        };
        let stream = futures::stream::unfold(resuming, Resuming::next).boxed();
        let reader = tokio_util::io::StreamReader::new(stream);
        Ok(Box::new(tokio_util::io::SyncIoBridge::new(reader)))
    }

    /// The object from `offset` on (of the version `version`, when given), retried
    /// under `store_retry`.
    async fn get_from(
        &self,
        key: &ObjectPath,
        offset: u64,
        version: Option<&String>,
    ) -> std::result::Result<object_store::GetResult, object_store::Error> {
        let mut options = GetOptions::new().with_range(Some(GetRange::Offset(offset)));
        options.if_match = version.cloned();
        self.retrying("object store read", || self.store.get_opts(key, options.clone())).await
    }

    /// Start the multipart upload of `key` (the in-progress part).
    pub(crate) async fn start_upload(&self, key: &ObjectPath) -> Result<String> {
        let start = || self.multipart.create_multipart(key);
        Ok(self.retrying("object store start upload", start).await.map_err(|e| store_error("start upload", key, e))?)
    }

    /// Upload part `index` of an upload.
    pub(crate) async fn upload_part(
        &self,
        key: &ObjectPath,
        upload: &str,
        index: usize,
        data: Vec<u8>,
    ) -> Result<String> {
        // Uploading part `index` again replaces it.
        let (upload, data) = (upload.to_string(), bytes::Bytes::from(data));
        let put = || self.multipart.put_part(key, &upload, index, PutPayload::from(data.clone()));
        let part =
            self.retrying("object store upload part", put).await.map_err(|e| store_error("upload part", key, e))?;
        Ok(part.content_id)
    }

    /// Complete an upload: the object becomes visible. Idempotent: when the object
    /// exists the upload was completed before (keys are unique per attempt, subtask
    /// and part), so a replayed commit does not complete it again (stores answer a
    /// second completion with errors that clients retry for minutes). An upload that
    /// is neither completable nor complete is lost data.
    pub(crate) async fn complete(&self, key: &str, upload: &str, parts: &[String]) -> Result<()> {
        let path = Self::parse(key)?;
        match self.retrying("object store check", || self.store.head(&path)).await {
            Ok(_) => return Ok(()),
            Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(store_error("check", key, e).into()),
        }
        let ids: Vec<PartId> = parts.iter().map(|p| PartId { content_id: p.clone() }).collect();
        let upload = upload.to_string();
        // A completion whose answer was lost and is sent again fails (the upload is
        // gone): the check below finds the object then.
        let complete = || self.multipart.complete_multipart(&path, &upload, ids.clone());
        match self.retrying("object store complete upload", complete).await {
            Ok(_) => Ok(()),
            Err(first) => match self.retrying("object store check", || self.store.head(&path)).await {
                Ok(_) => Ok(()),
                Err(object_store::Error::NotFound { .. }) => {
                    tracing::error!(key, error = %first, "completing a pending upload failed and no object exists");
                    Err(FileError::PendingLost(key.to_string()).into())
                }
                Err(_) => Err(store_error("complete upload", key, first).into()),
            },
        }
    }
}

//! Object-storage state backend (S3, or anything `object_store` speaks) with fencing.
//! Several processes may point at the same location (a replica, and the replacement
//! Kubernetes started while the old pod still runs): only the newest may complete a
//! checkpoint; the older one's next checkpoint fails with [`StreamError::Fenced`] and
//! its job stops without committing.
//!
//! Layout under the prefix:
//! - `claims/<n>`: a chain of small objects, each written create-only
//!   (`PutMode::Create`, S3's `If-None-Match: *`). A writer starts by claiming the
//!   number after the newest claim (that number is its *generation*); each checkpoint
//!   then claims the number after the writer's own last claim. When that number is
//!   taken, or a newer claim exists once it is made, a newer writer has started.
//! - `checkpoints/<n>-<generation>.ckpt`: the checkpoint claim `n` points at, written
//!   before the claim, so a claimed checkpoint is complete; its name carries the
//!   writer's generation, so a fenced writer never overwrites another's.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::{Arc, Mutex};

use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{GetOptions, ObjectStore, PutMode, PutOptions, PutPayload};
use serde::{Deserialize, Serialize};

use super::{CheckpointData, StateBackend, envelope};
use crate::error::{Result, StreamError};

const CLAIMS: &str = "claims";
const CHECKPOINTS: &str = "checkpoints";
/// Claims tried at start before giving up (each failure means another writer claimed
/// the same number in the same moment).
const MAX_START_CLAIMS: usize = 64;

/// What a claim says: who made it, and the checkpoint it completes (none for the
/// claim a writer starts with).
#[derive(Debug, Serialize, Deserialize)]
struct Claim {
    generation: u64,
    checkpoint: Option<u64>,
}

/// This process's place in the chain of claims.
#[derive(Debug, Clone, Default)]
struct Writer {
    generation: u64,
    /// The claims of this writer's retained checkpoints, oldest first.
    retained: VecDeque<u64>,
}

impl Writer {
    /// The newest claim it made: its last checkpoint's, or the one it started with.
    fn last_claim(&self) -> u64 {
        self.retained.back().copied().unwrap_or(self.generation)
    }
}

/// Stores checkpoints in an object store under a prefix, fencing older writers (see
/// the module docs for the layout). Keeps the newest `retain` checkpoints.
///
/// ```no_run
/// use stream_core::state::ObjectStoreStateBackend;
///
/// # fn main() -> stream_core::Result<()> {
/// // Credentials and endpoint from the usual `AWS_*` variables.
/// let backend = ObjectStoreStateBackend::from_url("s3://checkpoints/word-count/replica-0")?
///     .retain(3)
///     .build()?;
/// # let _ = backend;
/// # Ok(())
/// # }
/// ```
pub struct ObjectStoreStateBackend {
    io: Arc<Io>,
    retained: usize,
    writer: Mutex<Option<Writer>>,
}

impl std::fmt::Debug for ObjectStoreStateBackend {
    // The store's `Display` names its kind and bucket, never its credentials.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectStoreStateBackend")
            .field("location", &self.io.location())
            .field("retained", &self.retained)
            .finish()
    }
}

/// Builds an [`ObjectStoreStateBackend`].
pub struct ObjectStoreStateBackendBuilder {
    store: Arc<dyn ObjectStore>,
    prefix: String,
    retained: usize,
}

impl ObjectStoreStateBackend {
    /// Checkpoints in `store` (an `AmazonS3`, a `LocalFileSystem`, ...).
    pub fn builder(store: Arc<dyn ObjectStore>) -> ObjectStoreStateBackendBuilder {
        ObjectStoreStateBackendBuilder { store, prefix: String::new(), retained: 3 }
    }

    /// Checkpoints at `url`: `s3://bucket/prefix` (credentials, region and endpoint
    /// from the `AWS_*` environment variables, as the AWS tools read them) or
    /// `file:///absolute/dir` (created if missing).
    pub fn from_url(url: &str) -> Result<ObjectStoreStateBackendBuilder> {
        let (store, prefix) = store_from_url(url)?;
        Ok(Self::builder(store).prefix(prefix))
    }

    fn writer(&self) -> std::sync::MutexGuard<'_, Option<Writer>> {
        self.writer.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Claim a new generation: this process is now the location's writer.
    fn claim_generation(&self) -> Result<Writer> {
        let io = self.io.clone();
        let generation = self.io.run(async move { io.claim_generation().await })??;
        tracing::info!(location = %self.io.location(), generation, "claimed the checkpoint storage");
        let writer = Writer { generation, retained: VecDeque::new() };
        *self.writer() = Some(writer.clone());
        Ok(writer)
    }

    /// This writer's place, claiming one first if `begin` was not called.
    fn claimed(&self) -> Result<Writer> {
        let claimed = self.writer().clone();
        claimed.map_or_else(|| self.claim_generation(), Ok)
    }
}

/// `prefix` as an object path (slashes around it dropped); fails naming it.
pub(crate) fn parse_prefix(prefix: &str) -> Result<Path> {
    Path::parse(prefix.trim_matches('/'))
        .map_err(|e| StreamError::invalid("prefix", prefix, format!("not a valid object path: {e}")))
}

/// A request on `path` of `store` failed: the error names the store and the path.
pub(crate) fn store_failed(store: &dyn ObjectStore, path: &Path, error: object_store::Error) -> StreamError {
    StreamError::io(format!("{store}/{path}"), std::io::Error::other(error))
}

/// The store and the prefix inside it that `url` names: `s3://bucket/prefix`
/// (credentials, region and endpoint from the `AWS_*` environment variables) or
/// `file:///absolute/dir` (created if missing, prefix empty).
pub(crate) fn store_from_url(url: &str) -> Result<(Arc<dyn ObjectStore>, String)> {
    let invalid = |reason: &str| StreamError::invalid("url", url, reason.to_string());
    let (scheme, rest) = url.split_once("://").ok_or_else(|| invalid("give s3://bucket/prefix or file:///dir"))?;
    match scheme {
        "s3" | "s3a" => {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(invalid("names no bucket: give s3://bucket/prefix"));
            }
            let store = object_store::aws::AmazonS3Builder::from_env()
                .with_bucket_name(bucket)
                .build()
                .map_err(|e| StreamError::invalid("url", url, format!("S3 settings rejected: {e}")))?;
            Ok((Arc::new(store), prefix.to_string()))
        }
        "file" => {
            if !rest.starts_with('/') {
                return Err(invalid("a file URL needs an absolute path: file:///dir"));
            }
            std::fs::create_dir_all(rest).map_err(|e| StreamError::io(rest, e))?;
            let store = object_store::local::LocalFileSystem::new_with_prefix(rest)
                .map_err(|e| StreamError::invalid("url", url, format!("not a usable directory: {e}")))?;
            Ok((Arc::new(store), String::new()))
        }
        _ => Err(invalid("unsupported scheme: give s3://bucket/prefix or file:///dir")),
    }
}

impl ObjectStoreStateBackendBuilder {
    /// The prefix (a path inside the bucket) under which this job's, or this
    /// replica's, checkpoints live. Default: the bucket's root.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Keep the newest `n` checkpoints (at least 1; 2 or more lets a damaged newest
    /// one fall back to the previous). Default 3.
    pub fn retain(mut self, n: usize) -> Self {
        self.retained = n;
        self
    }

    /// The backend; fails naming a bad option. Nothing is read or written until the
    /// job starts.
    pub fn build(self) -> Result<ObjectStoreStateBackend> {
        if self.retained == 0 {
            return Err(StreamError::invalid("retain", 0, "at least one checkpoint must be kept"));
        }
        let io = Io::new(self.store, parse_prefix(&self.prefix)?)?;
        Ok(ObjectStoreStateBackend { io: Arc::new(io), retained: self.retained, writer: Mutex::new(None) })
    }
}

impl StateBackend for ObjectStoreStateBackend {
    fn begin(&self) -> Result<()> {
        self.claim_generation().map(drop)
    }

    fn store(&self, checkpoint: &CheckpointData) -> Result<u64> {
        let bytes = envelope::encode(checkpoint).map_err(|e| StreamError::state("checkpoint", e))?;
        let size = bytes.len() as u64;
        let writer = self.claimed()?;
        let (io, id) = (self.io.clone(), checkpoint.id);
        let (claim, claims) = self.io.run(async move { io.store(&writer, id, bytes).await })??;
        let mut guard = self.writer();
        let Some(writer) = guard.as_mut() else { return Ok(size) };
        writer.retained.push_back(claim);
        if writer.retained.len() > self.retained {
            writer.retained.pop_front();
        }
        let oldest_kept = (writer.retained.len() == self.retained).then(|| writer.retained[0]);
        drop(guard);
        if let Some(oldest_kept) = oldest_kept {
            let io = self.io.clone();
            if let Err(e) = self.io.run(async move { io.delete_before(oldest_kept, claims).await }).and_then(|r| r) {
                tracing::warn!(location = %self.io.location(), error = %e, "could not delete old checkpoints");
            }
        }
        Ok(size)
    }

    fn latest(&self) -> Result<Option<CheckpointData>> {
        let io = self.io.clone();
        self.io.run(async move { io.latest().await })?
    }
}

/// The store, the prefix, and a runtime of its own for the store's requests: the
/// backend is called from blocking threads, and the client's connections must not
/// depend on which job runtime happens to call.
struct Io {
    store: Arc<dyn ObjectStore>,
    prefix: Path,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Drop for Io {
    fn drop(&mut self) {
        // Dropping a runtime blocks, which panics on an async thread.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl Io {
    fn new(store: Arc<dyn ObjectStore>, prefix: Path) -> Result<Io> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("checkpoint-storage")
            .enable_all()
            .build()
            .map_err(|e| StreamError::io("<checkpoint storage runtime>", e))?;
        Ok(Io { store, prefix, runtime: Some(runtime) })
    }

    fn location(&self) -> String {
        format!("{}/{}", self.store, self.prefix)
    }

    /// Run `work` on the store's runtime and wait for it, from any thread.
    fn run<F>(&self, work: F) -> Result<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let runtime = self.runtime.as_ref().ok_or_else(|| StreamError::TaskFailed {
            task: "checkpoint-storage".into(),
            message: "the storage runtime is shut down".into(),
        })?;
        futures::executor::block_on(runtime.spawn(work)).map_err(|e| StreamError::join_failed("checkpoint-storage", e))
    }

    fn path(&self, dir: &str, name: &str) -> Path {
        self.prefix.clone().join(dir).join(name)
    }

    fn claim_path(&self, n: u64) -> Path {
        self.path(CLAIMS, &format!("{n:020}"))
    }

    fn checkpoint_path(&self, n: u64, generation: u64) -> Path {
        self.path(CHECKPOINTS, &format!("{n:020}-{generation:020}.ckpt"))
    }

    fn failed(&self, path: &Path, e: object_store::Error) -> StreamError {
        store_failed(&*self.store, path, e)
    }

    fn fenced(&self, generation: u64, claim: u64) -> StreamError {
        StreamError::Fenced { location: self.location(), generation, claim }
    }

    /// `(number, path)` of every object in `dir` whose name starts with a number,
    /// ascending.
    async fn numbered(&self, dir: &str) -> Result<Vec<(u64, Path)>> {
        let under = self.prefix.clone().join(dir);
        let metas: Vec<_> = self.store.list(Some(&under)).try_collect().await.map_err(|e| self.failed(&under, e))?;
        let mut found: Vec<(u64, Path)> = metas
            .into_iter()
            .filter_map(|meta| {
                let name = meta.location.filename()?;
                let n = name.get(..20)?.parse::<u64>().ok()?;
                Some((n, meta.location))
            })
            .collect();
        found.sort_by_key(|(n, _)| *n);
        Ok(found)
    }

    /// Write claim `n` if nobody has; whether this call wrote it.
    async fn claim(&self, n: u64, claim: &Claim) -> Result<bool> {
        let path = self.claim_path(n);
        let body = serde_json::to_vec(claim).map_err(|e| StreamError::state("claim", e))?;
        match self.store.put_opts(&path, PutPayload::from(body), PutMode::Create.into()).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::AlreadyExists { .. }) => Ok(false),
            Err(e) => Err(self.failed(&path, e)),
        }
    }

    /// Claim the number after the newest claim; it is the new writer's generation.
    async fn claim_generation(&self) -> Result<u64> {
        for _ in 0..MAX_START_CLAIMS {
            let next = self.numbered(CLAIMS).await?.last().map_or(1, |(n, _)| n + 1);
            if self.claim(next, &Claim { generation: next, checkpoint: None }).await? {
                return Ok(next);
            }
        }
        Err(StreamError::TaskFailed {
            task: "checkpoint-storage".into(),
            message: format!(
                "{MAX_START_CLAIMS} claims on {} were each taken by another writer in the same moment; \
                 are many processes starting on one location?",
                self.location()
            ),
        })
    }

    /// Write the checkpoint, then claim the number after `writer`'s last claim; the
    /// claim made, and the claims listed after it. Fenced when the number is taken or
    /// a newer claim exists.
    async fn store(&self, writer: &Writer, id: u64, bytes: Vec<u8>) -> Result<(u64, Vec<(u64, Path)>)> {
        let n = writer.last_claim() + 1;
        let path = self.checkpoint_path(n, writer.generation);
        let payload = PutPayload::from(bytes);
        self.store.put_opts(&path, payload, PutOptions::default()).await.map_err(|e| self.failed(&path, e))?;
        if !self.claim(n, &Claim { generation: writer.generation, checkpoint: Some(id) }).await? {
            return Err(self.fenced(writer.generation, n));
        }
        // Old claims are deleted, so a long-stopped writer's claim can succeed where
        // one was; a newer claim then shows it was replaced. Its claim and checkpoint
        // stay: a newer writer may be restoring from them right now.
        let claims = self.numbered(CLAIMS).await?;
        if let Some((newer, _)) = claims.iter().find(|(c, _)| *c > n) {
            return Err(self.fenced(writer.generation, *newer));
        }
        Ok((n, claims))
    }

    /// Delete the checkpoints and the `claims` (as listed by `store`) numbered below
    /// `oldest_kept`.
    async fn delete_before(&self, oldest_kept: u64, claims: Vec<(u64, Path)>) -> Result<()> {
        for (dir, listed) in [(CHECKPOINTS, self.numbered(CHECKPOINTS).await?), (CLAIMS, claims)] {
            let old: Vec<Path> = listed.into_iter().filter(|(n, _)| *n < oldest_kept).map(|(_, p)| p).collect();
            let mut deleted = self.store.delete_stream(futures::stream::iter(old.into_iter().map(Ok)).boxed());
            while let Some(result) = deleted.next().await {
                match result {
                    Ok(_) | Err(object_store::Error::NotFound { .. }) => {}
                    Err(e) => return Err(self.failed(&self.prefix.clone().join(dir), e)),
                }
            }
        }
        Ok(())
    }

    /// The checkpoint of the newest claim that has an intact one.
    async fn latest(&self) -> Result<Option<CheckpointData>> {
        for (n, path) in self.numbered(CLAIMS).await?.into_iter().rev() {
            let claim = match self.read(&path).await? {
                Some(bytes) => serde_json::from_slice::<Claim>(&bytes),
                None => continue, // deleted while listed
            };
            let claim = match claim {
                Ok(claim) => claim,
                Err(e) => {
                    tracing::error!(claim = n, error = %e, "unreadable claim; falling back to the previous one");
                    continue;
                }
            };
            let Some(id) = claim.checkpoint else { continue };
            let Some(bytes) = self.read(&self.checkpoint_path(n, claim.generation)).await? else {
                tracing::error!(
                    claim = n,
                    checkpoint = id,
                    "claimed checkpoint missing; falling back to the previous one"
                );
                continue;
            };
            match envelope::decode_as(&bytes, id) {
                Ok(data) => return Ok(Some(data)),
                Err(reason) => tracing::error!(claim = n, checkpoint = id, %reason,
                    "checkpoint is unusable; falling back to the previous one"),
            }
        }
        Ok(None)
    }

    /// The object's bytes, or `None` when it does not exist.
    async fn read(&self, path: &Path) -> Result<Option<Vec<u8>>> {
        let got = match self.store.get_opts(path, GetOptions::default()).await {
            Ok(got) => got,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(self.failed(path, e)),
        };
        got.bytes().await.map(|b| Some(b.to_vec())).map_err(|e| self.failed(path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn backend(dir: &std::path::Path, retain: usize) -> ObjectStoreStateBackend {
        let url = format!("file://{}", dir.display());
        ObjectStoreStateBackend::from_url(&url).unwrap().retain(retain).build().unwrap()
    }

    fn checkpoint(id: u64, writer: &str) -> CheckpointData {
        let mut tasks = BTreeMap::new();
        let state = crate::state::StateBlob::encode("t", &serde_json::json!({ "writer": writer })).unwrap();
        tasks.insert("1-count/0".to_string(), state);
        CheckpointData { id, timestamp_ms: id, enumerator: None, tasks }
    }

    fn writer_of(checkpoint: &CheckpointData) -> String {
        let state: serde_json::Value = checkpoint.tasks["1-count/0"].decode("t").unwrap();
        state["writer"].as_str().unwrap().to_string()
    }

    fn names(dir: &std::path::Path, sub: &str) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir.join(sub))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn restores_the_newest_and_keeps_the_last_n() {
        let dir = tempfile::tempdir().unwrap();
        let a = backend(dir.path(), 2);
        assert!(a.latest().unwrap().is_none());
        a.begin().unwrap();
        for id in 1..=4 {
            assert!(a.store(&checkpoint(id, "a")).unwrap() > 20);
        }
        assert_eq!(a.latest().unwrap().unwrap().id, 4);
        // Claim 1 started the writer; checkpoints 1..4 are claims 2..5; 4 and 5 kept.
        assert_eq!(names(dir.path(), CLAIMS), [format!("{:020}", 4), format!("{:020}", 5)]);
        assert_eq!(names(dir.path(), CHECKPOINTS).len(), 2);
        // A new process restores it.
        assert_eq!(backend(dir.path(), 2).latest().unwrap().unwrap(), checkpoint(4, "a"));
    }

    #[test]
    fn a_replaced_writer_is_fenced_and_its_replacement_restores_what_it_completed() {
        let dir = tempfile::tempdir().unwrap();
        let (old, new) = (backend(dir.path(), 3), backend(dir.path(), 3));
        old.begin().unwrap();
        old.store(&checkpoint(1, "old")).unwrap();
        old.store(&checkpoint(2, "old")).unwrap();
        new.begin().unwrap();
        assert_eq!(new.latest().unwrap().unwrap(), checkpoint(2, "old"));
        let fenced = old.store(&checkpoint(3, "old")).unwrap_err();
        assert!(matches!(fenced, StreamError::Fenced { generation: 1, .. }), "{fenced}");
        assert!(fenced.is_permanent());
        new.store(&checkpoint(3, "new")).unwrap();
        let restored = backend(dir.path(), 3).latest().unwrap().unwrap();
        assert_eq!((restored.id, writer_of(&restored)), (3, "new".to_string()));
        // Fenced for good: every later try fails too.
        assert!(matches!(old.store(&checkpoint(4, "old")), Err(StreamError::Fenced { .. })));
    }

    #[test]
    fn a_writer_stopped_until_its_next_claim_was_deleted_is_still_fenced() {
        let dir = tempfile::tempdir().unwrap();
        let (old, new) = (backend(dir.path(), 1), backend(dir.path(), 1));
        old.begin().unwrap(); // claim 1
        old.store(&checkpoint(1, "old")).unwrap(); // claim 2
        new.begin().unwrap(); // claim 3, the number the old writer claims next
        for id in 2..=4 {
            new.store(&checkpoint(id, "new")).unwrap();
        }
        assert!(!names(dir.path(), CLAIMS).contains(&format!("{:020}", 3)), "claim 3 was deleted");
        let fenced = old.store(&checkpoint(2, "old")).unwrap_err();
        assert!(matches!(fenced, StreamError::Fenced { generation: 1, claim: 6, .. }), "{fenced}");
        let restored = backend(dir.path(), 1).latest().unwrap().unwrap();
        assert_eq!((restored.id, writer_of(&restored)), (4, "new".to_string()));
    }

    #[test]
    fn writers_starting_at_once_take_different_generations() {
        let dir = tempfile::tempdir().unwrap();
        let generations: Vec<u64> = std::thread::scope(|scope| {
            let started: Vec<_> = (0..6)
                .map(|_| {
                    scope.spawn(|| {
                        let b = backend(dir.path(), 3);
                        b.begin().unwrap();
                        b.claimed().unwrap().generation
                    })
                })
                .collect();
            started.into_iter().map(|s| s.join().unwrap()).collect()
        });
        let mut sorted = generations.clone();
        sorted.sort();
        assert_eq!(sorted, (1..=6).collect::<Vec<u64>>(), "{generations:?}");
    }

    #[test]
    fn a_damaged_newest_checkpoint_falls_back_to_the_previous() {
        let dir = tempfile::tempdir().unwrap();
        let a = backend(dir.path(), 3);
        a.store(&checkpoint(1, "a")).unwrap(); // claims on first store when not begun
        a.store(&checkpoint(2, "a")).unwrap();
        let newest = dir.path().join(CHECKPOINTS).join(names(dir.path(), CHECKPOINTS).pop().unwrap());
        let bytes = std::fs::read(&newest).unwrap();
        std::fs::write(&newest, &bytes[..bytes.len() / 2]).unwrap();
        assert_eq!(a.latest().unwrap().unwrap().id, 1);
    }

    #[test]
    fn bad_options_are_named() {
        let error = |r: Result<ObjectStoreStateBackendBuilder>| r.err().unwrap().to_string();
        assert!(error(ObjectStoreStateBackend::from_url("ftp://host/x")).contains("`url` = ftp://host/x"));
        assert!(error(ObjectStoreStateBackend::from_url("s3:///prefix")).contains("names no bucket"));
        assert!(error(ObjectStoreStateBackend::from_url("file://relative")).contains("absolute path"));
        assert!(error(ObjectStoreStateBackend::from_url("checkpoints")).contains("`url`"));
        let dir = tempfile::tempdir().unwrap();
        let url = format!("file://{}", dir.path().display());
        let zero = ObjectStoreStateBackend::from_url(&url).unwrap().retain(0).build().unwrap_err();
        assert!(zero.to_string().contains("`retain` = 0"), "{zero}");
        let bad = ObjectStoreStateBackend::from_url(&url).unwrap().prefix("jobs/../x").build().unwrap_err();
        assert!(bad.to_string().contains("`prefix` = jobs/../x"), "{bad}");
    }
}

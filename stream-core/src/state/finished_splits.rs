//! A board on object storage where a job's replicas post the splits they have read
//! to their end, once a checkpoint covering that end has completed. A replica whose
//! split must wait for a split another replica owns (a Kinesis shard merged from two
//! parents of different replicas) reads the board instead of a shared enumerator.
//!
//! Layout under the prefix: one empty object per finished split, named by its id
//! (written with a plain put: posting twice is harmless).

use std::sync::Arc;

use object_store::path::{Path, PathPart};
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

use super::object::{parse_prefix, store_failed, store_from_url};
use crate::error::Result;

/// Where the replicas of one job post finished splits. Give every replica the same
/// board, and a board of its own to each job.
///
/// ```no_run
/// use stream_core::state::FinishedSplitsBoard;
///
/// # fn main() -> stream_core::Result<()> {
/// // Credentials and endpoint from the usual `AWS_*` variables.
/// let board = FinishedSplitsBoard::from_url("s3://checkpoints/word-count/finished-splits")?;
/// # let _ = board;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct FinishedSplitsBoard {
    store: Arc<dyn ObjectStore>,
    prefix: Path,
}

impl std::fmt::Debug for FinishedSplitsBoard {
    /// The store's `Display` (`AmazonS3(bucket)`), never its settings: they may hold
    /// credentials.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FinishedSplitsBoard({}/{})", self.store, self.prefix)
    }
}

impl FinishedSplitsBoard {
    /// The board under `prefix` in `store`; fails naming a prefix that is not an
    /// object path.
    pub fn new(store: Arc<dyn ObjectStore>, prefix: &str) -> Result<Self> {
        Ok(FinishedSplitsBoard { store, prefix: parse_prefix(prefix)? })
    }

    /// The board at `url`: `s3://bucket/prefix` (credentials, region and endpoint from
    /// the `AWS_*` environment variables) or `file:///absolute/dir`.
    pub fn from_url(url: &str) -> Result<Self> {
        let (store, prefix) = store_from_url(url)?;
        Self::new(store, &prefix)
    }

    /// The part of this board under `scope` (a source's name for its input, so that
    /// two inputs with the same split ids do not mix).
    pub fn scoped(&self, scope: &str) -> Self {
        FinishedSplitsBoard { store: self.store.clone(), prefix: self.prefix.clone().join(PathPart::from(scope)) }
    }

    /// Post `split_id` as finished.
    pub async fn post(&self, split_id: &str) -> Result<()> {
        let path = self.path(split_id);
        self.store.put(&path, PutPayload::new()).await.map_err(|e| store_failed(&*self.store, &path, e))?;
        Ok(())
    }

    /// Whether `split_id` was posted as finished.
    pub async fn is_finished(&self, split_id: &str) -> Result<bool> {
        let path = self.path(split_id);
        match self.store.head(&path).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(store_failed(&*self.store, &path, e)),
        }
    }

    fn path(&self, split_id: &str) -> Path {
        self.prefix.clone().join(PathPart::from(split_id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_posted_split_is_finished_in_its_scope_only() {
        let store: Arc<dyn ObjectStore> = Arc::new(object_store::memory::InMemory::new());
        let board = FinishedSplitsBoard::new(store, "/job/finished/").unwrap();
        let (a, b) = (board.scoped("stream-a@1"), board.scoped("stream-b@1"));
        assert!(!a.is_finished("shardId-000000000001").await.unwrap());
        a.post("shardId-000000000001").await.unwrap();
        a.post("shardId-000000000001").await.unwrap();
        assert!(a.is_finished("shardId-000000000001").await.unwrap());
        assert!(!b.is_finished("shardId-000000000001").await.unwrap());
        // Ids that are not path-safe stay one object of their own.
        a.post("odd/../id").await.unwrap();
        assert!(a.is_finished("odd/../id").await.unwrap());
        assert!(!a.is_finished("odd").await.unwrap());
        assert!(format!("{a:?}").starts_with("FinishedSplitsBoard(InMemory/job/finished/stream-a@1"), "{a:?}");
    }
}

//! Direct commits still running in this process, by transactional id.
//!
//! When an attempt of the job fails, its committer task is dropped, but a
//! `commit_transaction` call it started keeps running on its blocking thread. The
//! next attempt's recovery of the same transaction must not fence the id and read
//! its marker while that commit may still land: a broker that lets the late commit
//! through (noida-db after a restart was seen to) would show the records twice, once
//! committed late and once written again. So a recovery first waits for any commit
//! of its id to return.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;

#[derive(Default)]
pub(crate) struct CommitsInFlight {
    /// Running commits per id.
    ids: Mutex<HashMap<String, usize>>,
    finished: Notify,
}

/// Marks a commit of `id` as running until dropped (move it into the blocking call).
pub(crate) struct CommitRunning {
    commits: Arc<CommitsInFlight>,
    id: String,
}

impl Drop for CommitRunning {
    fn drop(&mut self) {
        let mut ids = self.commits.lock();
        if let Some(n) = ids.get_mut(&self.id) {
            *n -= 1;
            if *n == 0 {
                ids.remove(&self.id);
            }
        }
        drop(ids);
        self.commits.finished.notify_waiters();
    }
}

impl CommitsInFlight {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, usize>> {
        self.ids.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A commit of `id` starts.
    pub fn start(self: &Arc<Self>, id: &str) -> CommitRunning {
        *self.lock().entry(id.to_string()).or_default() += 1;
        CommitRunning { commits: self.clone(), id: id.to_string() }
    }

    /// Returns once no commit of `id` is running.
    pub async fn settled(&self, id: &str) {
        loop {
            let finished = self.finished.notified();
            tokio::pin!(finished);
            finished.as_mut().enable();
            if !self.lock().contains_key(id) {
                return;
            }
            tracing::info!(id, "waiting for an earlier attempt's commit to return");
            finished.await;
        }
    }
}

//! Calls on a transactional id still running on blocking threads in this process:
//! direct commits and the initialisation of producers (spares, fencing).
//!
//! When an attempt of the job fails, its tasks are dropped, but a call they started
//! keeps running on its blocking thread. The next attempt must not fence or use the
//! same id while that call may still land:
//! - a late `commit_transaction`: a broker that lets it through (noida-db after a
//!   restart was seen to) would show the records twice, once committed late and once
//!   written again by recovery;
//! - a late `init_transactions` (a spare, or fencing): it would fence the new attempt's
//!   producer of that id and fail the new attempt.
//!
//! So a recovery or a `begin` first waits for any call on its id to return.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;

#[derive(Default)]
pub(crate) struct CommitsInFlight {
    /// Running calls per id.
    ids: Mutex<HashMap<String, usize>>,
    finished: Notify,
}

/// Marks a call on `id` as running until dropped (move it into the blocking call).
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

    /// A call on `id` starts.
    pub fn start(self: &Arc<Self>, id: &str) -> CommitRunning {
        *self.lock().entry(id.to_string()).or_default() += 1;
        CommitRunning { commits: self.clone(), id: id.to_string() }
    }

    /// Returns once no call on `id` is running.
    pub async fn settled(&self, id: &str) {
        loop {
            let finished = self.finished.notified();
            tokio::pin!(finished);
            finished.as_mut().enable();
            if !self.lock().contains_key(id) {
                return;
            }
            tracing::info!(id, "waiting for an earlier attempt's call on this id to return");
            finished.await;
        }
    }
}

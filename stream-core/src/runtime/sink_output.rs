//! A sink chained into the task that feeds it (Flink's operator chaining): the
//! writer is the terminal output of the upstream task; a committer task per subtask
//! commits. At a barrier the writer flushes, pre-commits and snapshots (writer state
//! and every committable not yet committed) and acknowledges under the sink stage's
//! own key. The committer commits when a checkpoint completes and drops committables
//! from the shared list only after the commit succeeded, so a snapshot taken during a
//! commit still holds them; after a restore they are committed again (committers are
//! idempotent).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use super::attempt::TaskEnv;
use super::output::Output;
use crate::api::{Committer, Sink, SinkWriter, TaskContext};
use crate::error::{Result, StreamError};
use crate::fault::FaultPoint;
use crate::metrics::{SinkMetrics, TaskCounters};
use crate::retry::RetryPolicy;

/// Checkpointed state of a sink subtask.
#[derive(Serialize, Deserialize)]
pub(crate) struct SinkState<W, C> {
    pub(crate) writer: Vec<W>,
    /// Committables by the checkpoint that prepared them, not yet known committed.
    pub(crate) pending: Vec<(u64, Vec<C>)>,
}

/// Committables shared by the writer side and the committer task, and the subtask's
/// connector metrics the runtime reports (records written, commits).
pub(crate) struct SinkShared<C> {
    metrics: SinkMetrics,
    pending: Mutex<Vec<(u64, Arc<Vec<C>>)>>,
    /// By checkpoint: the oldest checkpoint whose committables this subtask's
    /// snapshot of it held (the checkpoint's own id + 1 when it held none).
    floors: Mutex<BTreeMap<u64, u64>>,
    /// The committer was told to forget everything before this checkpoint.
    forgotten: AtomicU64,
    ended: AtomicBool,
    wake: Notify,
}

impl<C> SinkShared<C> {
    pub(crate) fn new(restored: Vec<(u64, Vec<C>)>, metrics: SinkMetrics) -> Arc<Self> {
        let mut pending: Vec<(u64, Arc<Vec<C>>)> = restored.into_iter().map(|(id, c)| (id, Arc::new(c))).collect();
        pending.sort_by_key(|(id, _)| *id);
        Arc::new(SinkShared {
            metrics,
            pending: Mutex::new(pending),
            floors: Mutex::new(BTreeMap::new()),
            forgotten: AtomicU64::new(0),
            ended: AtomicBool::new(false),
            wake: Notify::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Vec<(u64, Arc<Vec<C>>)>> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn floors(&self) -> MutexGuard<'_, BTreeMap<u64, u64>> {
        self.floors.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The floor of the newest checkpoint up to `id` (now complete), when it is above
    /// what was forgotten; the floors up to `id` are dropped.
    fn floor_to_forget(&self, id: u64) -> Option<u64> {
        let mut floors = self.floors();
        let floor = floors.range(..=id).next_back().map(|(_, floor)| *floor);
        *floors = floors.split_off(&(id + 1));
        floor.filter(|floor| *floor > self.forgotten.load(Ordering::Acquire))
    }
}

/// The writer side, as the terminal output of the upstream task. The writer is
/// created on first use, inside that task.
pub(crate) struct SinkOutput<T, S: Sink<T>> {
    key: String,
    ctx: TaskContext,
    sink: Arc<S>,
    restored: Vec<S::WriterState>,
    writer: Option<S::Writer>,
    shared: Arc<SinkShared<S::Committable>>,
    env: TaskEnv,
    buffer: Vec<T>,
    counters: TaskCounters,
    threshold: Option<u64>,
    written: u64,
}

impl<T: Send + 'static, S: Sink<T>> SinkOutput<T, S> {
    pub(crate) fn new(
        sink: Arc<S>,
        key: String,
        ctx: TaskContext,
        restored: Vec<S::WriterState>,
        shared: Arc<SinkShared<S::Committable>>,
        env: TaskEnv,
    ) -> Self {
        let counters = env.metrics.task(&ctx.name, ctx.subtask);
        let threshold = env.faults.record_threshold(&ctx.name, ctx.subtask);
        SinkOutput {
            key,
            ctx,
            sink,
            restored,
            writer: None,
            shared,
            env,
            buffer: Vec::new(),
            counters,
            threshold,
            written: 0,
        }
    }

    async fn writer(&mut self) -> Result<&mut S::Writer> {
        if self.writer.is_none() {
            let restored = std::mem::take(&mut self.restored);
            self.writer = Some(self.sink.create_writer(&self.ctx, restored).await?);
        }
        self.writer.as_mut().ok_or(StreamError::ChannelClosed)
    }

    async fn write_buffered(&mut self) -> Result<()> {
        self.writer().await?;
        let n = self.buffer.len() as u64;
        if let Some(writer) = self.writer.as_mut() {
            writer.write_batch(&mut self.buffer).await?;
        }
        self.counters.records_in(n);
        self.shared.metrics.records_out(n);
        self.written += n;
        if let Some(t) = self.threshold.filter(|t| self.written >= *t) {
            self.env.faults.check(&self.ctx.name, self.ctx.subtask, FaultPoint::AfterRecords(t))?;
        }
        Ok(())
    }
}

#[async_trait]
impl<T: Send + 'static, S: Sink<T>> Output<T> for SinkOutput<T, S> {
    fn collect_all(&mut self, records: &mut Vec<T>) {
        self.buffer.append(records);
    }

    async fn flush(&mut self) -> Result<()> {
        self.write_buffered().await
    }

    async fn barrier(&mut self, id: u64) -> Result<()> {
        self.write_buffered().await?;
        let writer = self.writer().await?;
        writer.flush(false).await?;
        let committables = writer.prepare_commit(id).await?;
        let writer_state = writer.snapshot_state(id)?;
        if !committables.is_empty() {
            self.shared.lock().push((id, Arc::new(committables)));
        }
        self.env.faults.check(&self.ctx.name, self.ctx.subtask, FaultPoint::DuringSnapshot)?;
        let pending = self.shared.lock().clone();
        let floor = pending.first().map_or(id + 1, |(oldest, _)| *oldest);
        self.shared.floors().insert(id, floor);
        let pending: Vec<(u64, &[S::Committable])> = pending.iter().map(|(id, c)| (*id, c.as_slice())).collect();
        self.env.ack(&self.key, id, &SinkStateRef { writer: &writer_state, pending })
    }

    async fn end_of_data(&mut self) -> Result<()> {
        self.write_buffered().await?;
        self.writer().await?.end_of_data().await
    }

    async fn end(&mut self) -> Result<()> {
        self.write_buffered().await?;
        self.writer().await?.flush(true).await?;
        // The final checkpoint completed before the input ended: the committer
        // commits what is left and finishes.
        self.shared.ended.store(true, Ordering::Release);
        self.shared.wake.notify_one();
        Ok(())
    }

    fn take_count(&mut self) -> u64 {
        0
    }
}

#[derive(Serialize)]
struct SinkStateRef<'a, W, C> {
    writer: &'a [W],
    pending: Vec<(u64, &'a [C])>,
}

/// The committer task of one sink subtask.
pub(crate) async fn run_committer<C: Committer>(
    key: String,
    ctx: TaskContext,
    mut committer: C,
    shared: Arc<SinkShared<C::Committable>>,
    env: TaskEnv,
) -> Result<()> {
    let mut completed = env.completed.clone();
    // Committables of the restored checkpoint belong to a complete checkpoint.
    if let Some(restored) = ctx.restored_checkpoint {
        commit_up_to(&key, &ctx, &mut committer, &shared, &env, restored).await?;
    }
    loop {
        if shared.ended.load(Ordering::Acquire) {
            let id = *completed.borrow_and_update();
            commit_up_to(&key, &ctx, &mut committer, &shared, &env, id).await?;
            if !shared.lock().is_empty() {
                tracing::warn!(task = %key, "committables left uncommitted at the end of input");
            }
            return Ok(());
        }
        tokio::select! {
            changed = completed.changed() => {
                changed.map_err(|_| StreamError::ChannelClosed)?;
                let id = *completed.borrow_and_update();
                commit_up_to(&key, &ctx, &mut committer, &shared, &env, id).await?;
            }
            _ = shared.wake.notified() => {}
        }
    }
}

/// Commit everything prepared by checkpoint `id` (now complete) or earlier, drop it
/// from the shared list only after; then tell the committer what no restore can
/// bring back.
async fn commit_up_to<C: Committer>(
    key: &str,
    ctx: &TaskContext,
    committer: &mut C,
    shared: &SinkShared<C::Committable>,
    env: &TaskEnv,
    id: u64,
) -> Result<()> {
    commit_due(key, ctx, committer, shared, env, id).await?;
    if let Some(floor) = shared.floor_to_forget(id) {
        match committer.forget_before(floor).await {
            Ok(()) => shared.forgotten.store(floor, Ordering::Release),
            Err(error) => tracing::warn!(task = %key, checkpoint = floor, %error, "forgetting old committables failed"),
        }
    }
    Ok(())
}

async fn commit_due<C: Committer>(
    key: &str,
    ctx: &TaskContext,
    committer: &mut C,
    shared: &SinkShared<C::Committable>,
    env: &TaskEnv,
    id: u64,
) -> Result<()> {
    let due: Vec<Arc<Vec<C::Committable>>> =
        shared.lock().iter().take_while(|(cp, _)| *cp <= id).map(|(_, c)| c.clone()).collect();
    if due.is_empty() {
        return Ok(());
    }
    let (stage, subtask) = (ctx.name.as_str(), ctx.subtask);
    let fresh = id > ctx.restored_checkpoint.unwrap_or(0);
    env.faults.check_commit(stage, subtask, FaultPoint::AfterCheckpointBeforeCommit, fresh)?;
    let crash_midway = env.faults.is_planted(stage, subtask, FaultPoint::DuringCommit, fresh);
    let metrics = &shared.metrics;
    for (i, committables) in due.iter().enumerate() {
        let split = if crash_midway && i == 0 { committables.len().div_ceil(2) } else { committables.len() };
        let (first, rest) = committables.split_at(split);
        commit_with_retry(committer, first, key, &env.commit_retry, metrics).await?;
        env.faults.check_commit(stage, subtask, FaultPoint::DuringCommit, fresh)?;
        commit_with_retry(committer, rest, key, &env.commit_retry, metrics).await?;
    }
    shared.lock().retain(|(cp, _)| *cp > id);
    Ok(())
}

async fn commit_with_retry<C: Committer>(
    committer: &mut C,
    committables: &[C::Committable],
    task: &str,
    policy: &RetryPolicy,
    metrics: &SinkMetrics,
) -> Result<()> {
    if committables.is_empty() || !C::COMMITS {
        return Ok(());
    }
    // The committer is borrowed mutably by each call, so this loops over the policy's
    // backoff itself instead of using `RetryPolicy::retry`.
    let mut backoff = policy.backoff();
    loop {
        let error = match committer.commit(committables).await {
            Ok(()) => {
                metrics.commits_succeeded(committables.len() as u64);
                return Ok(());
            }
            Err(error) => {
                metrics.commit_failed();
                error
            }
        };
        let Some(delay) = backoff.next_delay() else { return Err(error) };
        tracing::warn!(%task, attempt = backoff.failures(), ?delay, %error, "commit failed; retrying");
        tokio::time::sleep(delay).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::StateBlob;

    #[test]
    fn a_sink_state_round_trips_through_format_2() {
        let (writer, pending) = (vec![(7u64, "x".to_string())], vec![(3u64, vec!["c-3".to_string()])]);
        let pending_refs: Vec<(u64, &[String])> = pending.iter().map(|(id, c)| (*id, c.as_slice())).collect();
        let blob = StateBlob::encode("sink", &SinkStateRef { writer: &writer, pending: pending_refs }).unwrap();
        let back: SinkState<(u64, String), String> = blob.decode("sink").unwrap();
        assert_eq!((back.writer, back.pending), (writer, pending));
        let empty: Vec<(u64, &[String])> = Vec::new();
        let nothing: &[(u64, String)] = &[];
        assert!(StateBlob::encode("sink", &SinkStateRef { writer: nothing, pending: empty }).unwrap().holds_nothing());
    }
}

//! A sink subtask: writes records; at a barrier flushes, pre-commits and snapshots
//! (writer state + committables not yet committed); commits when the coordinator
//! reports the checkpoint complete; on restore commits the restored committables
//! again (committers are idempotent).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::attempt::TaskEnv;
use super::input_gate::{GateEvent, InputGate};
use crate::api::{Committer, Sink, SinkWriter, TaskContext};
use crate::error::{Result, StreamError};
use crate::fault::FaultPoint;

/// Checkpointed state of a sink subtask.
#[derive(Serialize, Deserialize)]
#[serde(bound = "W: Serialize + serde::de::DeserializeOwned, C: Serialize + serde::de::DeserializeOwned")]
pub(crate) struct SinkState<W, C> {
    pub(crate) writer: Vec<W>,
    /// Committables by the checkpoint that prepared them, not yet known committed.
    pub(crate) pending: Vec<(u64, Vec<C>)>,
}

const COMMIT_ATTEMPTS: u32 = 3;

pub(crate) struct SinkTask<T, S: Sink<T>> {
    pub(crate) key: String,
    pub(crate) ctx: TaskContext,
    pub(crate) writer: S::Writer,
    pub(crate) committer: S::Committer,
    pub(crate) pending: Vec<(u64, Vec<S::Committable>)>,
    pub(crate) gate: InputGate<T>,
    pub(crate) env: TaskEnv,
}

impl<T: Send + 'static, S: Sink<T>> SinkTask<T, S> {
    pub(crate) async fn run(mut self) -> Result<()> {
        let counters = self.env.metrics.task(&self.ctx.name, self.ctx.subtask);
        let threshold = self.env.faults.record_threshold(&self.ctx.name, self.ctx.subtask);
        // Committables of the restored checkpoint belong to a complete checkpoint.
        if let Some(restored) = self.ctx.restored_checkpoint {
            self.commit_up_to(restored).await?;
        }
        let mut completed = self.env.completed.clone();
        let mut written: u64 = 0;
        loop {
            let event = tokio::select! {
                biased;
                changed = completed.changed() => {
                    changed.map_err(|_| StreamError::ChannelClosed)?;
                    let id = *completed.borrow_and_update();
                    self.commit_up_to(id).await?;
                    continue;
                }
                event = self.gate.next() => event,
            };
            match event {
                GateEvent::Records(batch) => {
                    let n = batch.len() as u64;
                    for record in batch {
                        self.writer.write(record).await?;
                    }
                    counters.records_in(n);
                    written += n;
                    if let Some(t) = threshold.filter(|t| written >= *t) {
                        self.env.faults.check(&self.ctx.name, self.ctx.subtask, FaultPoint::AfterRecords(t))?;
                    }
                }
                GateEvent::Checkpoint(id) => self.checkpoint(id).await?,
                GateEvent::End => {
                    self.writer.flush(true).await?;
                    // The final checkpoint completed before the input ended.
                    let id = *completed.borrow_and_update();
                    self.commit_up_to(id).await?;
                    if !self.pending.is_empty() {
                        tracing::warn!(task = %self.key, "committables left uncommitted at the end of input");
                    }
                    return Ok(());
                }
                GateEvent::UpstreamLost => return Err(StreamError::ChannelClosed),
            }
        }
    }

    async fn checkpoint(&mut self, id: u64) -> Result<()> {
        self.writer.flush(false).await?;
        let committables = self.writer.prepare_commit(id).await?;
        if !committables.is_empty() {
            self.pending.push((id, committables));
        }
        self.env.faults.check(&self.ctx.name, self.ctx.subtask, FaultPoint::DuringSnapshot)?;
        let writer = self.writer.snapshot_state(id)?;
        let state = SinkState { writer, pending: std::mem::take(&mut self.pending) };
        let acked = self.env.ack(&self.key, id, &state);
        self.pending = state.pending;
        acked
    }

    /// Commit everything prepared by checkpoint `id` or earlier.
    async fn commit_up_to(&mut self, id: u64) -> Result<()> {
        let due = self.pending.iter().take_while(|(cp, _)| *cp <= id).count();
        if due == 0 {
            return Ok(());
        }
        let (stage, subtask) = (self.ctx.name.clone(), self.ctx.subtask);
        self.env.faults.check(&stage, subtask, FaultPoint::AfterCheckpointBeforeCommit)?;
        let committables: Vec<S::Committable> = self.pending.drain(..due).flat_map(|(_, c)| c).collect();
        let split = if self.env.faults.is_planted(&stage, subtask, FaultPoint::DuringCommit) {
            committables.len().div_ceil(2)
        } else {
            committables.len()
        };
        let (first, rest) = committables.split_at(split);
        commit_with_retry(&mut self.committer, first, &self.key).await?;
        self.env.faults.check(&stage, subtask, FaultPoint::DuringCommit)?;
        commit_with_retry(&mut self.committer, rest, &self.key).await
    }
}

async fn commit_with_retry<C: Committer>(committer: &mut C, committables: &[C::Committable], task: &str) -> Result<()> {
    if committables.is_empty() {
        return Ok(());
    }
    let mut delay = Duration::from_millis(50);
    let mut attempt = 1;
    loop {
        match committer.commit(committables).await {
            Ok(()) => return Ok(()),
            Err(e) if attempt < COMMIT_ATTEMPTS => {
                tracing::warn!(%task, attempt, error = %e, "commit failed; retrying");
                tokio::time::sleep(delay).await;
                delay *= 2;
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

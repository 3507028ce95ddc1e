//! A source subtask: drives its reader, handles split assignments and checkpoint
//! triggers between two `poll_next` calls (so a barrier follows exactly the records
//! that the snapshot's positions cover).

use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TryRecvError;

use super::attempt::{CoordinatorMsg, TaskEnv};
use super::driver::SourceControl;
use super::output::BoxOutput;
use crate::api::{ReadStatus, SourceReader, TaskContext};
use crate::error::{Result, StreamError};
use crate::fault::FaultPoint;

enum Flow {
    Continue,
    Exit,
}

struct SourceTask<R: SourceReader> {
    key: String,
    /// The source's place among the job's sources.
    source: usize,
    ctx: TaskContext,
    reader: R,
    out: BoxOutput<R::Output>,
    env: TaskEnv,
    awaiting_splits: bool,
    finished: bool,
    /// The coordinator was asked for a checkpoint and none was taken since.
    checkpoint_wanted: bool,
}

pub(crate) async fn run_source<R: SourceReader>(
    key: String,
    source: usize,
    ctx: TaskContext,
    reader: R,
    out: BoxOutput<R::Output>,
    mut control: mpsc::UnboundedReceiver<SourceControl<R::Split>>,
    env: TaskEnv,
) -> Result<()> {
    let counters = env.metrics.task(&ctx.name, ctx.subtask);
    let connector = ctx.source_metrics();
    let threshold = env.faults.record_threshold(&ctx.name, ctx.subtask);
    let mut task = SourceTask {
        key,
        source,
        ctx,
        reader,
        out,
        env,
        awaiting_splits: false,
        finished: false,
        checkpoint_wanted: false,
    };
    let mut buffer = Vec::new();
    let mut emitted: u64 = 0;
    loop {
        // Handle queued control messages, but at most one checkpoint before the next
        // read: slow snapshots must not starve reading.
        loop {
            match control.try_recv() {
                Ok(msg) => {
                    let was_trigger = matches!(msg, SourceControl::Trigger(_));
                    if let Flow::Exit = task.handle(msg).await? {
                        return Ok(());
                    }
                    if was_trigger {
                        break;
                    }
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => return Err(StreamError::ChannelClosed),
            }
        }
        if task.finished || task.awaiting_splits {
            let msg = control.recv().await.ok_or(StreamError::ChannelClosed)?;
            if let Flow::Exit = task.handle(msg).await? {
                return Ok(());
            }
            continue;
        }
        let status = task.reader.poll_next(&mut buffer).await?;
        let n = buffer.len() as u64;
        task.out.collect_all(&mut buffer);
        task.out.flush().await?;
        // Reported once the split's last records are on their way downstream.
        let finished = task.reader.take_finished_splits();
        if !finished.is_empty() {
            task.notify(CoordinatorMsg::SplitsFinished {
                source: task.source,
                subtask: task.ctx.subtask,
                split_ids: finished,
            })?;
        }
        if !task.checkpoint_wanted && task.reader.wants_checkpoint() {
            task.checkpoint_wanted = true;
            task.notify(CoordinatorMsg::CheckpointWanted { task: task.key.clone() })?;
        }
        counters.records_out(n);
        connector.records_in(n);
        emitted += n;
        if threshold.is_some_and(|t| emitted >= t) {
            task.env.faults.check(
                &task.ctx.name,
                task.ctx.subtask,
                FaultPoint::AfterRecords(threshold.unwrap_or(0)),
            )?;
        }
        match status {
            ReadStatus::MoreAvailable => {}
            ReadStatus::NothingAvailable => {
                let msg = tokio::select! {
                    biased;
                    msg = control.recv() => Some(msg.ok_or(StreamError::ChannelClosed)?),
                    _ = task.reader.wait_available() => None,
                };
                if let Some(msg) = msg
                    && let Flow::Exit = task.handle(msg).await?
                {
                    return Ok(());
                }
            }
            ReadStatus::NeedSplits => {
                task.awaiting_splits = true;
                task.notify(CoordinatorMsg::SplitRequest { source: task.source, subtask: task.ctx.subtask })?;
            }
            ReadStatus::Finished => task.finish().await?,
        }
    }
}

impl<R: SourceReader> SourceTask<R> {
    fn notify(&self, msg: CoordinatorMsg) -> Result<()> {
        self.env.coordinator.send(msg).map_err(|_| StreamError::ChannelClosed)
    }

    /// End this reader's data: no record follows; the coordinator learns it is drained.
    async fn finish(&mut self) -> Result<()> {
        if !self.finished {
            self.finished = true;
            self.out.end_of_data().await?;
            self.env.drained(&self.key)?;
        }
        Ok(())
    }

    async fn handle(&mut self, msg: SourceControl<R::Split>) -> Result<Flow> {
        match msg {
            SourceControl::AddSplits(splits) => {
                self.awaiting_splits = false;
                self.reader.add_splits(splits);
            }
            SourceControl::NoMoreSplits => {
                self.awaiting_splits = false;
                self.reader.notify_no_more_splits();
            }
            SourceControl::Trigger(id) => {
                self.env.faults.check(&self.ctx.name, self.ctx.subtask, FaultPoint::DuringSnapshot)?;
                let splits = self.reader.snapshot_state(id)?;
                self.checkpoint_wanted = false;
                self.env.ack(&self.key, id, &splits)?;
                self.out.barrier(id).await?;
            }
            SourceControl::Complete(id) => {
                // A crash here: the checkpoint is complete, the reader has not yet
                // acknowledged or committed what it covers.
                self.env.faults.check_commit(
                    &self.ctx.name,
                    self.ctx.subtask,
                    FaultPoint::AfterCheckpointBeforeCommit,
                    true,
                )?;
                self.reader.notify_checkpoint_complete(id).await?
            }
            // The reader keeps its splits: the final checkpoint stores their positions.
            SourceControl::Stop => self.finish().await?,
            SourceControl::EndInput => {
                self.out.end().await?;
                return Ok(Flow::Exit);
            }
        }
        Ok(Flow::Continue)
    }
}

//! The checkpoint coordinator of one attempt: triggers checkpoints at the sources
//! (interval, max concurrent, min pause), collects acknowledgements, aborts on
//! timeout, stores a checkpoint only when every task acknowledged it, then notifies
//! tasks so that committers commit; takes the final checkpoint when every source has
//! finished, then ends the input.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tracing::Instrument;

use tokio::sync::{mpsc, watch};

use super::attempt::CoordinatorMsg;
use super::driver::Drivers;
use crate::checkpoint_config::CheckpointConfig;
use crate::error::{Result, StreamError};
use crate::metrics::JobMetrics;
use crate::state::{CheckpointData, StateBackend, StateBlob};
use crate::uid_map::UidMap;

struct Pending {
    started: Instant,
    /// The enumerators' states by their keys.
    enumerators: Vec<(String, StateBlob)>,
    acks: BTreeMap<String, StateBlob>,
}

pub(crate) struct Coordinator {
    pub(crate) config: CheckpointConfig,
    pub(crate) backend: Arc<dyn StateBackend>,
    /// The ids task states are stored under.
    pub(crate) uids: UidMap,
    pub(crate) metrics: JobMetrics,
    pub(crate) drivers: Drivers,
    pub(crate) inbox: mpsc::UnboundedReceiver<CoordinatorMsg>,
    pub(crate) completed: watch::Sender<u64>,
    /// Participants that acknowledge checkpoints.
    pub(crate) ackers: BTreeSet<String>,
    /// Number of spawned tasks that must finish.
    pub(crate) task_count: usize,
    /// Number of tasks that must report drained before the final checkpoint.
    pub(crate) data_tasks: usize,
    /// Id of the restored checkpoint (0 if none); new ids continue from it.
    pub(crate) last_id: u64,
    /// Becomes true when the job is to stop with a savepoint.
    pub(crate) stop: watch::Receiver<bool>,
}

struct Progress {
    pending: BTreeMap<u64, Pending>,
    next_periodic: Option<Instant>,
    earliest_next: Instant,
    failures: u32,
    drained: BTreeSet<String>,
    final_id: Option<u64>,
    final_done: bool,
    /// The readers were told to stop.
    stopping: bool,
    finished_tasks: BTreeSet<String>,
    next_discovery: Option<Instant>,
}

const FAR: Duration = Duration::from_secs(3600);

/// When the coordinator must wake up without a message: for a due periodic
/// checkpoint, a pending one's timeout, or partition discovery.
fn next_wake(config: &CheckpointConfig, p: &Progress, now: Instant) -> Instant {
    let mut wake = now + FAR;
    // While as many checkpoints as allowed are pending, a due periodic one waits for
    // an acknowledgement (a message), not for a time: waking for it would spin.
    let may_trigger = p.pending.len() < config.max_concurrent;
    if let (None, Some(t), true) = (p.final_id, p.next_periodic, may_trigger) {
        wake = wake.min(t.max(p.earliest_next));
    }
    for pending in p.pending.values() {
        wake = wake.min(pending.started + config.timeout);
    }
    if let Some(t) = p.next_discovery {
        wake = wake.min(t);
    }
    wake
}

impl Coordinator {
    pub(crate) async fn run(mut self) -> Result<()> {
        self.drivers.start().await?;
        let now = Instant::now();
        let mut p = Progress {
            pending: BTreeMap::new(),
            next_periodic: self.config.interval.map(|i| now + i),
            earliest_next: now,
            failures: 0,
            drained: BTreeSet::new(),
            final_id: None,
            final_done: false,
            stopping: false,
            finished_tasks: BTreeSet::new(),
            next_discovery: self.drivers.next_discovery(),
        };
        let (mut stop, mut stop_open) = (self.stop.clone(), true);
        loop {
            if !p.stopping && *stop.borrow_and_update() {
                // Stop-with-savepoint: the readers end their data; when every task has
                // drained, the final checkpoint (the savepoint) is taken and committed.
                tracing::info!("stopping the sources for a savepoint");
                p.stopping = true;
                self.drivers.stop_readers();
            }
            let wake = next_wake(&self.config, &p, Instant::now());
            let msg = tokio::select! {
                msg = self.inbox.recv() => msg,
                _ = tokio::time::sleep_until(wake.into()) => None,
                changed = stop.changed(), if !p.stopping && stop_open => {
                    stop_open = changed.is_ok();
                    continue;
                }
            };
            if let Some(msg) = msg {
                match msg {
                    CoordinatorMsg::Ack { checkpoint_id, task, state } => {
                        let span = tracing::info_span!("checkpoint", id = checkpoint_id);
                        self.on_ack(&mut p, checkpoint_id, task, state).instrument(span).await?;
                    }
                    CoordinatorMsg::SplitRequest { source, subtask } => {
                        self.drivers.handle_split_request(source, subtask).await?
                    }
                    CoordinatorMsg::SplitsFinished { source, subtask, split_ids } => {
                        self.drivers.handle_splits_finished(source, subtask, split_ids).await?
                    }
                    CoordinatorMsg::CheckpointWanted { task } => {
                        if let Some(due) = p.next_periodic.as_mut() {
                            tracing::debug!(%task, "a source wants a checkpoint before the interval");
                            *due = (*due).min(Instant::now());
                        }
                    }
                    CoordinatorMsg::Drained { task } => {
                        p.drained.insert(task);
                    }
                    CoordinatorMsg::TaskFinished { task } => {
                        p.finished_tasks.insert(task);
                        if p.finished_tasks.len() == self.task_count {
                            return Ok(());
                        }
                    }
                    CoordinatorMsg::TaskFailed { task, error } => {
                        return Err(match error {
                            e @ (StreamError::TaskFailed { .. } | StreamError::Task { .. }) => e,
                            e => StreamError::Task { task, source: Box::new(e) },
                        });
                    }
                }
            }
            let now = Instant::now();
            self.expire(&mut p, now)?;
            if p.next_discovery.is_some_and(|t| now >= t) {
                self.drivers.discover_due(now).await?;
                p.next_discovery = self.drivers.next_discovery();
            }
            self.maybe_trigger(&mut p, now)?;
        }
    }

    /// The final checkpoint waits until every task forwarded its end of data, so that
    /// no record follows the final barrier (Flink's FLIP-147).
    fn all_drained(&self, p: &Progress) -> bool {
        p.drained.len() == self.data_tasks
    }

    fn maybe_trigger(&mut self, p: &mut Progress, now: Instant) -> Result<()> {
        if p.final_id.is_some() || p.pending.len() >= self.config.max_concurrent {
            return Ok(());
        }
        let is_final = self.all_drained(p);
        let periodic_due = p.next_periodic.is_some_and(|t| now >= t) && now >= p.earliest_next;
        if !is_final && !periodic_due {
            return Ok(());
        }
        self.last_id += 1;
        let id = self.last_id;
        let enumerators = self.drivers.trigger_checkpoint(id)?;
        tracing::debug!(checkpoint = id, is_final, "checkpoint triggered");
        p.pending.insert(id, Pending { started: now, enumerators, acks: BTreeMap::new() });
        if is_final {
            p.final_id = Some(id);
        }
        p.next_periodic = self.config.interval.map(|i| now + i);
        Ok(())
    }

    fn expire(&mut self, p: &mut Progress, now: Instant) -> Result<()> {
        let expired: Vec<u64> =
            p.pending.iter().filter(|(_, c)| now >= c.started + self.config.timeout).map(|(id, _)| *id).collect();
        for id in expired {
            p.pending.remove(&id);
            self.fail_checkpoint(p, id, format!("timed out after {:?}", self.config.timeout))?;
        }
        Ok(())
    }

    fn fail_checkpoint(&mut self, p: &mut Progress, id: u64, reason: String) -> Result<()> {
        self.metrics.checkpoint_failed();
        p.failures += 1;
        tracing::warn!(checkpoint = id, %reason, consecutive_failures = p.failures, "checkpoint aborted");
        if p.final_id == Some(id) {
            p.final_id = None;
        }
        if p.failures > self.config.tolerable_failed {
            return Err(StreamError::TooManyCheckpointFailures {
                failed: p.failures,
                tolerable: self.config.tolerable_failed,
                last_reason: reason,
            });
        }
        Ok(())
    }

    async fn on_ack(&mut self, p: &mut Progress, id: u64, task: String, state: StateBlob) -> Result<()> {
        let Some(pending) = p.pending.get_mut(&id) else {
            tracing::debug!(checkpoint = id, %task, "late acknowledgement of an aborted checkpoint ignored");
            return Ok(());
        };
        pending.acks.insert(task, state);
        if pending.acks.len() < self.ackers.len() {
            return Ok(());
        }
        let Some(mut pending) = p.pending.remove(&id) else { return Ok(()) };
        let started = pending.started;
        pending.acks.extend(pending.enumerators);
        let data = self.uids.to_stored(CheckpointData {
            id,
            timestamp_ms: SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0),
            enumerator: None,
            tasks: pending.acks,
        });
        let backend = self.backend.clone();
        let stored = tokio::task::spawn_blocking(move || backend.store(&data))
            .await
            .map_err(|e| StreamError::join_failed("checkpoint-storage", e))?;
        let bytes = match stored {
            Ok(bytes) => bytes,
            // Fenced by a newer writer: stop at once, committing nothing.
            Err(e) if e.is_permanent() => return Err(e),
            Err(e) => return self.fail_checkpoint(p, id, format!("storing failed: {e}")),
        };
        let duration = started.elapsed();
        self.metrics.checkpoint_completed(id, duration, bytes);
        tracing::info!(checkpoint = id, duration_ms = duration.as_millis() as u64, bytes, "checkpoint complete");
        p.failures = 0;
        p.earliest_next = Instant::now() + self.config.min_pause;
        // A completed checkpoint subsumes older pending ones.
        let subsumed: Vec<u64> = p.pending.range(..id).map(|(k, _)| *k).collect();
        for old in subsumed {
            p.pending.remove(&old);
        }
        self.completed.send_replace(id);
        self.drivers.notify_checkpoint_complete(id);
        if p.final_id == Some(id) && !p.final_done {
            p.final_done = true;
            tracing::info!(checkpoint = id, "final checkpoint complete; ending input");
            self.drivers.end_input();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn progress(now: Instant) -> Progress {
        Progress {
            pending: BTreeMap::new(),
            next_periodic: Some(now - Duration::from_millis(5)),
            earliest_next: now - Duration::from_millis(5),
            failures: 0,
            drained: BTreeSet::new(),
            final_id: None,
            final_done: false,
            stopping: false,
            finished_tasks: BTreeSet::new(),
            next_discovery: None,
        }
    }

    fn pending(started: Instant) -> Pending {
        Pending { started, enumerators: Vec::new(), acks: BTreeMap::new() }
    }

    #[test]
    fn a_due_checkpoint_wakes_at_once_unless_the_pending_limit_is_reached() {
        let config = CheckpointConfig::builder().interval(Duration::from_millis(20)).build().unwrap();
        let now = Instant::now();
        let mut p = progress(now);
        assert!(next_wake(&config, &p, now) <= now, "a due checkpoint with none pending is triggered now");
        // A slow checkpoint is pending and the next one is due: the coordinator waits
        // for a message (or the pending one's timeout) instead of spinning.
        p.pending.insert(1, pending(now));
        assert_eq!(next_wake(&config, &p, now), now + config.timeout());
    }

    #[test]
    fn discovery_and_min_pause_set_the_wake_up() {
        let config = CheckpointConfig::builder().interval(Duration::from_millis(20)).build().unwrap();
        let now = Instant::now();
        let mut p = progress(now);
        p.earliest_next = now + Duration::from_millis(30);
        assert_eq!(next_wake(&config, &p, now), now + Duration::from_millis(30));
        p.next_discovery = Some(now + Duration::from_millis(10));
        assert_eq!(next_wake(&config, &p, now), now + Duration::from_millis(10));
    }
}

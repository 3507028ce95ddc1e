//! Fault injection for tests: crash a chosen subtask at a named point of the
//! checkpoint protocol. Each planted fault fires once; the job then fails over
//! (restart strategy, restore from the latest complete checkpoint).

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::{Result, StreamError};

/// Where in the protocol a fault fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FaultPoint {
    /// After the task has handled `n` records in the current attempt (checked at
    /// batch boundaries, so it fires at the first boundary at or after `n`).
    AfterRecords(u64),
    /// While the task snapshots its state for a checkpoint, before acknowledging.
    DuringSnapshot,
    /// In a sink, after a checkpoint completed and before its committables are
    /// committed; in a source, after a checkpoint completed and before the reader is
    /// told (before it acknowledges or commits what the checkpoint covers).
    AfterCheckpointBeforeCommit,
    /// In a sink, after part of the committables of a completed checkpoint were
    /// committed (the first one when there is only one).
    DuringCommit,
}

/// What a fault does when it fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultAction {
    /// The task fails with [`StreamError::InjectedFault`]; the job fails over.
    FailTask,
    /// The whole process aborts at once, like `kill -9`.
    AbortProcess,
}

/// One planted fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// Name of the stage (as given when the job was built).
    pub stage: String,
    /// Subtask index; `None` for whichever subtask gets there first.
    pub subtask: Option<usize>,
    /// Where it fires.
    pub point: FaultPoint,
    /// What it does.
    pub action: FaultAction,
    /// It can fire only after this many faults fired (to order a plan: a crash in the
    /// commit phase after data flowed, not at the first, empty checkpoint).
    pub after: usize,
    /// Commit-phase points only: fire only for a checkpoint completed by the running
    /// attempt, not while the committables of the restored one are committed again.
    pub fresh_checkpoint: bool,
}

impl Fault {
    /// A fault that fails a task of `stage` at `point`.
    pub fn new(stage: impl Into<String>, point: FaultPoint) -> Self {
        Fault {
            stage: stage.into(),
            subtask: None,
            point,
            action: FaultAction::FailTask,
            after: 0,
            fresh_checkpoint: false,
        }
    }

    /// Commit phase: fire only for a checkpoint the running attempt completed (the
    /// case "checkpoint n complete, its commit not done" with fresh data).
    pub fn on_fresh_checkpoint(mut self) -> Self {
        self.fresh_checkpoint = true;
        self
    }

    /// Fire only once `n` faults have fired.
    pub fn after_faults(mut self, n: usize) -> Self {
        self.after = n;
        self
    }

    /// Only subtask `subtask` fires it.
    pub fn subtask(mut self, subtask: usize) -> Self {
        self.subtask = Some(subtask);
        self
    }

    /// Abort the process instead of failing the task.
    pub fn abort_process(mut self) -> Self {
        self.action = FaultAction::AbortProcess;
        self
    }

    fn targets(&self, stage: &str, subtask: usize, fired: usize, fresh: bool) -> bool {
        self.stage == stage
            && self.subtask.is_none_or(|s| s == subtask)
            && fired >= self.after
            && (fresh || !self.fresh_checkpoint)
    }
}

#[derive(Debug, Default)]
struct Inner {
    armed: AtomicBool,
    planned: Mutex<Vec<Fault>>,
    fired: Mutex<Vec<Fault>>,
}

/// A set of planted faults shared by a job and the test that planted them.
/// Cloning shares the set.
#[derive(Debug, Clone, Default)]
pub struct FaultInjector {
    inner: Arc<Inner>,
}

impl FaultInjector {
    /// An injector with nothing planted.
    pub fn new() -> Self {
        Self::default()
    }

    /// Plant a fault.
    pub fn plant(&self, fault: Fault) -> &Self {
        lock(&self.inner.planned).push(fault);
        self.inner.armed.store(true, Ordering::Release);
        self
    }

    /// Faults that have fired so far, in order.
    pub fn fired(&self) -> Vec<Fault> {
        lock(&self.inner.fired).clone()
    }

    /// Faults planted and not yet fired.
    pub fn pending(&self) -> Vec<Fault> {
        lock(&self.inner.planned).clone()
    }

    /// Fire a planted fault matching `stage`/`subtask`/`point`, if any.
    pub(crate) fn check(&self, stage: &str, subtask: usize, point: FaultPoint) -> Result<()> {
        self.check_commit(stage, subtask, point, true)
    }

    /// [`FaultInjector::check`] in the commit phase: `fresh` when the checkpoint being
    /// committed was completed by the running attempt.
    pub(crate) fn check_commit(&self, stage: &str, subtask: usize, point: FaultPoint, fresh: bool) -> Result<()> {
        if !self.inner.armed.load(Ordering::Acquire) {
            return Ok(());
        }
        let fired = lock(&self.inner.fired).len();
        let fault = {
            let mut planned = lock(&self.inner.planned);
            let at = planned.iter().position(|f| f.targets(stage, subtask, fired, fresh) && f.point == point);
            let fault = at.map(|i| planned.remove(i));
            if planned.is_empty() {
                self.inner.armed.store(false, Ordering::Release);
            }
            fault
        };
        match fault {
            None => Ok(()),
            Some(fault) => self.fire(fault, stage, subtask),
        }
    }

    /// Whether a fault for this subtask and point is planted (without firing it).
    pub(crate) fn is_planted(&self, stage: &str, subtask: usize, point: FaultPoint, fresh: bool) -> bool {
        if !self.inner.armed.load(Ordering::Acquire) {
            return false;
        }
        let fired = lock(&self.inner.fired).len();
        lock(&self.inner.planned).iter().any(|f| f.targets(stage, subtask, fired, fresh) && f.point == point)
    }

    /// The smallest `AfterRecords` threshold planted for this subtask, if any: tasks
    /// compare their count against it locally instead of locking per batch.
    pub(crate) fn record_threshold(&self, stage: &str, subtask: usize) -> Option<u64> {
        if !self.inner.armed.load(Ordering::Acquire) {
            return None;
        }
        lock(&self.inner.planned)
            .iter()
            .filter(|f| f.stage == stage && f.subtask.is_none_or(|s| s == subtask))
            .filter_map(|f| match f.point {
                FaultPoint::AfterRecords(n) => Some(n),
                _ => None,
            })
            .min()
    }

    fn fire(&self, fault: Fault, stage: &str, subtask: usize) -> Result<()> {
        let message = format!("{:?} at {stage}/{subtask}", fault.point);
        tracing::warn!(fault = %message, "injected fault fires");
        let action = fault.action;
        lock(&self.inner.fired).push(fault);
        match action {
            FaultAction::FailTask => Err(StreamError::InjectedFault(message)),
            FaultAction::AbortProcess => std::process::abort(),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fires_once_for_the_targeted_subtask_only() {
        let injector = FaultInjector::new();
        injector.plant(Fault::new("sink", FaultPoint::DuringSnapshot).subtask(1));
        assert!(injector.check("sink", 0, FaultPoint::DuringSnapshot).is_ok());
        assert!(injector.check("other", 1, FaultPoint::DuringSnapshot).is_ok());
        assert!(injector.check("sink", 1, FaultPoint::DuringCommit).is_ok());
        let err = injector.check("sink", 1, FaultPoint::DuringSnapshot).unwrap_err();
        assert!(matches!(err, StreamError::InjectedFault(_)));
        assert!(injector.check("sink", 1, FaultPoint::DuringSnapshot).is_ok(), "fires once");
        assert_eq!(injector.fired().len(), 1);
        assert!(injector.pending().is_empty());
    }

    #[test]
    fn reports_the_lowest_record_threshold() {
        let injector = FaultInjector::new();
        assert_eq!(injector.record_threshold("src", 0), None);
        injector.plant(Fault::new("src", FaultPoint::AfterRecords(50)));
        injector.plant(Fault::new("src", FaultPoint::AfterRecords(20)).subtask(0));
        assert_eq!(injector.record_threshold("src", 0), Some(20));
        assert_eq!(injector.record_threshold("src", 1), Some(50));
        assert!(injector.check("src", 1, FaultPoint::AfterRecords(50)).is_err());
    }
}

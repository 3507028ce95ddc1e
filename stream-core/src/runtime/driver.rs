//! The type-erased link between the coordinator and a source's enumerator and readers.
//! Taking the enumerator snapshot and sending the trigger to the readers happen in one
//! step, in the same order as split assignments, so that a split is in exactly one of
//! the enumerator's state and a reader's state of every checkpoint.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use tokio::sync::mpsc;

use crate::api::{EnumeratorContext, SplitEnumerator};
use crate::error::{Result, StreamError};
use crate::replica::Replica;
use crate::state::StateBlob;

/// Control messages to one source reader task.
#[derive(Debug)]
pub(crate) enum SourceControl<S> {
    AddSplits(Vec<S>),
    NoMoreSplits,
    Trigger(u64),
    Complete(u64),
    /// Stop reading (stop-with-savepoint): end the data here, keep the splits and
    /// their positions for the final checkpoint.
    Stop,
    EndInput,
}

#[async_trait]
pub(crate) trait EnumeratorDriver: Send {
    async fn start(&mut self) -> Result<()>;
    async fn handle_split_request(&mut self, subtask: usize) -> Result<()>;
    async fn handle_splits_finished(&mut self, subtask: usize, split_ids: Vec<String>) -> Result<()>;
    fn discovery_interval(&self) -> Option<Duration>;
    async fn discover(&mut self) -> Result<()>;
    /// Snapshot the enumerator, then send the trigger to every reader.
    fn trigger_checkpoint(&mut self, id: u64) -> Result<StateBlob>;
    fn notify_checkpoint_complete(&mut self, id: u64);
    /// Tell every reader to stop reading (stop-with-savepoint).
    fn stop_readers(&mut self);
    fn end_input(&mut self);
}

pub(crate) struct SourceDriver<E: SplitEnumerator> {
    enumerator: E,
    ctx: EnumeratorContext<E::Split>,
    readers: Vec<mpsc::UnboundedSender<SourceControl<E::Split>>>,
}

impl<E: SplitEnumerator> SourceDriver<E> {
    pub(crate) fn new(
        enumerator: E,
        readers: Vec<mpsc::UnboundedSender<SourceControl<E::Split>>>,
        replica: Replica,
    ) -> Self {
        let ctx = EnumeratorContext::new(readers.len()).with_replica(replica);
        SourceDriver { enumerator, ctx, readers }
    }

    fn send(&self, subtask: usize, msg: SourceControl<E::Split>) {
        // A closed reader means the attempt is ending; the coordinator learns it otherwise.
        if let Some(reader) = self.readers.get(subtask) {
            let _ = reader.send(msg);
        }
    }

    /// Deliver what the enumerator decided during its last call.
    fn dispatch(&mut self) -> Result<()> {
        let parallelism = self.readers.len();
        let mut per_reader: Vec<Vec<E::Split>> = (0..parallelism).map(|_| Vec::new()).collect();
        for (subtask, split) in self.ctx.assignments.drain(..) {
            let slot = per_reader.get_mut(subtask).ok_or_else(|| {
                StreamError::invalid(
                    "subtask",
                    subtask,
                    format!(
                        "the enumerator assigned a split to a reader that does not exist (parallelism {parallelism})"
                    ),
                )
            })?;
            slot.push(split);
        }
        for (subtask, splits) in per_reader.into_iter().enumerate() {
            if !splits.is_empty() {
                self.send(subtask, SourceControl::AddSplits(splits));
            }
        }
        let no_more: Vec<usize> = self.ctx.no_more_splits.drain(..).collect();
        for subtask in no_more {
            self.send(subtask, SourceControl::NoMoreSplits);
        }
        Ok(())
    }
}

#[async_trait]
impl<E: SplitEnumerator> EnumeratorDriver for SourceDriver<E> {
    async fn start(&mut self) -> Result<()> {
        self.enumerator.start(&mut self.ctx).await?;
        self.dispatch()
    }

    async fn handle_split_request(&mut self, subtask: usize) -> Result<()> {
        self.enumerator.handle_split_request(subtask, &mut self.ctx).await?;
        self.dispatch()
    }

    async fn handle_splits_finished(&mut self, subtask: usize, split_ids: Vec<String>) -> Result<()> {
        self.enumerator.handle_splits_finished(subtask, split_ids, &mut self.ctx).await?;
        self.dispatch()
    }

    fn discovery_interval(&self) -> Option<Duration> {
        self.enumerator.discovery_interval()
    }

    async fn discover(&mut self) -> Result<()> {
        self.enumerator.discover(&mut self.ctx).await?;
        self.dispatch()
    }

    fn trigger_checkpoint(&mut self, id: u64) -> Result<StateBlob> {
        let state = self.enumerator.snapshot_state(id)?;
        let value = StateBlob::encode("enumerator", &state)?;
        for subtask in 0..self.readers.len() {
            self.send(subtask, SourceControl::Trigger(id));
        }
        Ok(value)
    }

    fn notify_checkpoint_complete(&mut self, id: u64) {
        self.enumerator.notify_checkpoint_complete(id);
        for subtask in 0..self.readers.len() {
            self.send(subtask, SourceControl::Complete(id));
        }
    }

    fn stop_readers(&mut self) {
        for subtask in 0..self.readers.len() {
            self.send(subtask, SourceControl::Stop);
        }
    }

    fn end_input(&mut self) {
        for subtask in 0..self.readers.len() {
            self.send(subtask, SourceControl::EndInput);
        }
    }
}

/// The enumerators of every source of a job, each with the key its state is
/// checkpointed under and its own discovery schedule.
pub(crate) struct Drivers {
    sources: Vec<Slot>,
}

struct Slot {
    state_key: String,
    driver: Box<dyn EnumeratorDriver>,
    next_discovery: Option<Instant>,
}

impl Drivers {
    pub(crate) fn new(drivers: Vec<(String, Box<dyn EnumeratorDriver>)>) -> Self {
        let sources =
            drivers.into_iter().map(|(state_key, driver)| Slot { state_key, driver, next_discovery: None }).collect();
        Drivers { sources }
    }

    fn slot(&mut self, source: usize) -> Result<&mut Slot> {
        let count = self.sources.len();
        self.sources.get_mut(source).ok_or_else(|| {
            StreamError::invalid("source", source, format!("a reader named a source the job lacks ({count} sources)"))
        })
    }

    pub(crate) async fn start(&mut self) -> Result<()> {
        for slot in &mut self.sources {
            slot.driver.start().await?;
            slot.next_discovery = slot.driver.discovery_interval().map(|d| Instant::now() + d);
        }
        Ok(())
    }

    pub(crate) async fn handle_split_request(&mut self, source: usize, subtask: usize) -> Result<()> {
        self.slot(source)?.driver.handle_split_request(subtask).await
    }

    pub(crate) async fn handle_splits_finished(
        &mut self,
        source: usize,
        subtask: usize,
        split_ids: Vec<String>,
    ) -> Result<()> {
        self.slot(source)?.driver.handle_splits_finished(subtask, split_ids).await
    }

    /// When the next discovery of any source is due.
    pub(crate) fn next_discovery(&self) -> Option<Instant> {
        self.sources.iter().filter_map(|s| s.next_discovery).min()
    }

    /// Discover in every source whose discovery is due at `now`; the next one is due
    /// an interval after this one ended, so that a slow discovery does not make the
    /// next due at once.
    pub(crate) async fn discover_due(&mut self, now: Instant) -> Result<()> {
        for slot in &mut self.sources {
            if slot.next_discovery.is_some_and(|t| now >= t) {
                slot.driver.discover().await?;
                slot.next_discovery = slot.driver.discovery_interval().map(|d| Instant::now() + d);
            }
        }
        Ok(())
    }

    /// Snapshot every enumerator and trigger its readers; the states by their keys.
    pub(crate) fn trigger_checkpoint(&mut self, id: u64) -> Result<Vec<(String, StateBlob)>> {
        self.sources.iter_mut().map(|s| Ok((s.state_key.clone(), s.driver.trigger_checkpoint(id)?))).collect()
    }

    pub(crate) fn notify_checkpoint_complete(&mut self, id: u64) {
        for slot in &mut self.sources {
            slot.driver.notify_checkpoint_complete(id);
        }
    }

    pub(crate) fn stop_readers(&mut self) {
        for slot in &mut self.sources {
            slot.driver.stop_readers();
        }
    }

    pub(crate) fn end_input(&mut self) {
        for slot in &mut self.sources {
            slot.driver.end_input();
        }
    }
}

//! The Hybrid source: read a bounded source to its end, then switch to another source
//! (Flink's `HybridSource`), for example history from files, then live data from a
//! log. The switch happens when every reader has finished the first source, so every
//! record of the first source is emitted before any of the second.

use std::collections::BTreeSet;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use stream_core::api::{
    Boundedness, EnumeratorContext, ReadStatus, Source, SourceReader, SourceSplit, SplitEnumerator, TaskContext,
};
use stream_core::{Result, StreamError};

/// A split of either source, or the marker that a reader has switched.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(bound = "A: SourceSplit, B: SourceSplit")]
pub enum HybridSplit<A, B> {
    /// A split of the first source.
    First(A),
    /// A split of the second source.
    Second(B),
    /// The reader reads the second source now (kept in its state across restores).
    Switched,
}

impl<A: SourceSplit, B: SourceSplit> SourceSplit for HybridSplit<A, B> {
    fn split_id(&self) -> String {
        match self {
            HybridSplit::First(a) => format!("first:{}", a.split_id()),
            HybridSplit::Second(b) => format!("second:{}", b.split_id()),
            HybridSplit::Switched => "switched".into(),
        }
    }
}

/// `first` (bounded) to its end, then `second`.
pub struct HybridSource<S1, S2> {
    first: Arc<S1>,
    second: Arc<S2>,
}

impl<S1: Source, S2: Source<Output = S1::Output>> HybridSource<S1, S2> {
    /// Read `first` (which must be bounded), then `second`.
    pub fn new(first: S1, second: S2) -> Result<Self> {
        if first.boundedness() != Boundedness::Bounded {
            return Err(StreamError::invalid(
                "first",
                "unbounded source",
                "the first source of a hybrid source must end",
            ));
        }
        Ok(HybridSource { first: Arc::new(first), second: Arc::new(second) })
    }
}

/// Checkpointed state of the hybrid enumerator.
#[derive(Serialize, Deserialize)]
#[serde(bound = "A: Serialize + serde::de::DeserializeOwned, B: Serialize + serde::de::DeserializeOwned")]
pub struct HybridState<A, B> {
    first: Option<A>,
    second: Option<B>,
    /// Readers that were told the first source has no more splits for them.
    told_no_more: BTreeSet<usize>,
    /// Readers that finished the first source (asked again after being told).
    finished_first: BTreeSet<usize>,
}

impl<S1, S2> Source for HybridSource<S1, S2>
where
    S1: Source,
    S2: Source<Output = S1::Output>,
{
    type Output = S1::Output;
    type Split = HybridSplit<S1::Split, S2::Split>;
    type EnumeratorState = HybridState<S1::EnumeratorState, S2::EnumeratorState>;
    type Enumerator = HybridEnumerator<S1, S2>;
    type Reader = HybridReader<S1, S2>;

    fn connector_name(&self) -> &'static str {
        "hybrid"
    }

    fn boundedness(&self) -> Boundedness {
        self.second.boundedness()
    }

    async fn create_enumerator(
        &self,
        parallelism: usize,
        restored: Option<Self::EnumeratorState>,
    ) -> Result<Self::Enumerator> {
        let state = restored.unwrap_or(HybridState {
            first: None,
            second: None,
            told_no_more: BTreeSet::new(),
            finished_first: BTreeSet::new(),
        });
        let second = match state.second {
            Some(s) => Some(self.second.create_enumerator(parallelism, Some(s)).await?),
            None => None,
        };
        let first =
            if second.is_some() { None } else { Some(self.first.create_enumerator(parallelism, state.first).await?) };
        Ok(HybridEnumerator {
            source2: self.second.clone(),
            parallelism,
            first,
            second,
            ctx1: EnumeratorContext::new(parallelism),
            ctx2: EnumeratorContext::new(parallelism),
            told_no_more: state.told_no_more,
            finished_first: state.finished_first,
        })
    }

    async fn create_reader(&self, ctx: &TaskContext) -> Result<Self::Reader> {
        Ok(HybridReader {
            first: self.first.create_reader(ctx).await?,
            second: None,
            source2: self.second.clone(),
            ctx: ctx.clone(),
            switched: false,
            pending_second: Vec::new(),
            no_more_second: false,
        })
    }
}

/// Delegates to the first enumerator, then to the second.
pub struct HybridEnumerator<S1: Source, S2: Source> {
    source2: Arc<S2>,
    parallelism: usize,
    first: Option<S1::Enumerator>,
    second: Option<S2::Enumerator>,
    ctx1: EnumeratorContext<S1::Split>,
    ctx2: EnumeratorContext<S2::Split>,
    told_no_more: BTreeSet<usize>,
    finished_first: BTreeSet<usize>,
}

impl<S1: Source, S2: Source<Output = S1::Output>> HybridEnumerator<S1, S2> {
    fn forward_first(&mut self, ctx: &mut EnumeratorContext<HybridSplit<S1::Split, S2::Split>>) {
        for (subtask, split) in self.ctx1.take_assignments() {
            ctx.assign_split(subtask, HybridSplit::First(split));
        }
        for subtask in self.ctx1.take_no_more_splits() {
            self.told_no_more.insert(subtask);
            ctx.signal_no_more_splits(subtask);
        }
    }

    fn forward_second(&mut self, ctx: &mut EnumeratorContext<HybridSplit<S1::Split, S2::Split>>) {
        for (subtask, split) in self.ctx2.take_assignments() {
            ctx.assign_split(subtask, HybridSplit::Second(split));
        }
        for subtask in self.ctx2.take_no_more_splits() {
            ctx.signal_no_more_splits(subtask);
        }
    }

    async fn switch(&mut self, ctx: &mut EnumeratorContext<HybridSplit<S1::Split, S2::Split>>) -> Result<()> {
        tracing::info!("hybrid source: first source finished everywhere; switching to the second");
        let mut second = self.source2.create_enumerator(self.parallelism, None).await?;
        second.start(&mut self.ctx2).await?;
        self.first = None;
        self.second = Some(second);
        for subtask in 0..self.parallelism {
            ctx.assign_split(subtask, HybridSplit::Switched);
        }
        // Every reader is waiting for work.
        for subtask in 0..self.parallelism {
            if let Some(second) = self.second.as_mut() {
                second.handle_split_request(subtask, &mut self.ctx2).await?;
            }
        }
        self.forward_second(ctx);
        Ok(())
    }
}

impl<S1, S2> SplitEnumerator for HybridEnumerator<S1, S2>
where
    S1: Source,
    S2: Source<Output = S1::Output>,
{
    type Split = HybridSplit<S1::Split, S2::Split>;
    type State = HybridState<S1::EnumeratorState, S2::EnumeratorState>;

    async fn start(&mut self, ctx: &mut EnumeratorContext<Self::Split>) -> Result<()> {
        if let Some(first) = self.first.as_mut() {
            first.start(&mut self.ctx1).await?;
            self.forward_first(ctx);
        } else if let Some(second) = self.second.as_mut() {
            second.start(&mut self.ctx2).await?;
            self.forward_second(ctx);
        }
        Ok(())
    }

    async fn handle_split_request(&mut self, subtask: usize, ctx: &mut EnumeratorContext<Self::Split>) -> Result<()> {
        if let Some(second) = self.second.as_mut() {
            second.handle_split_request(subtask, &mut self.ctx2).await?;
            self.forward_second(ctx);
            return Ok(());
        }
        if self.told_no_more.contains(&subtask) {
            // Asked again after "no more": this reader finished the first source.
            self.finished_first.insert(subtask);
            if self.finished_first.len() == self.parallelism {
                self.switch(ctx).await?;
            }
            return Ok(());
        }
        if let Some(first) = self.first.as_mut() {
            first.handle_split_request(subtask, &mut self.ctx1).await?;
            self.forward_first(ctx);
        }
        Ok(())
    }

    fn add_splits_back(&mut self, splits: Vec<Self::Split>, subtask: usize) {
        let (mut firsts, mut seconds) = (Vec::new(), Vec::new());
        for split in splits {
            match split {
                HybridSplit::First(a) => firsts.push(a),
                HybridSplit::Second(b) => seconds.push(b),
                HybridSplit::Switched => {}
            }
        }
        if let (Some(first), false) = (self.first.as_mut(), firsts.is_empty()) {
            first.add_splits_back(firsts, subtask);
        }
        if let (Some(second), false) = (self.second.as_mut(), seconds.is_empty()) {
            second.add_splits_back(seconds, subtask);
        }
    }

    fn discovery_interval(&self) -> Option<std::time::Duration> {
        match (&self.first, &self.second) {
            (_, Some(second)) => second.discovery_interval(),
            (Some(first), None) => first.discovery_interval(),
            (None, None) => None,
        }
    }

    async fn discover(&mut self, ctx: &mut EnumeratorContext<Self::Split>) -> Result<()> {
        if let Some(second) = self.second.as_mut() {
            second.discover(&mut self.ctx2).await?;
            self.forward_second(ctx);
        } else if let Some(first) = self.first.as_mut() {
            first.discover(&mut self.ctx1).await?;
            self.forward_first(ctx);
        }
        Ok(())
    }

    fn snapshot_state(&mut self, checkpoint_id: u64) -> Result<Self::State> {
        Ok(HybridState {
            first: match self.first.as_mut() {
                Some(first) => Some(first.snapshot_state(checkpoint_id)?),
                None => None,
            },
            second: match self.second.as_mut() {
                Some(second) => Some(second.snapshot_state(checkpoint_id)?),
                None => None,
            },
            told_no_more: self.told_no_more.clone(),
            finished_first: self.finished_first.clone(),
        })
    }

    fn notify_checkpoint_complete(&mut self, checkpoint_id: u64) {
        if let Some(first) = self.first.as_mut() {
            first.notify_checkpoint_complete(checkpoint_id);
        }
        if let Some(second) = self.second.as_mut() {
            second.notify_checkpoint_complete(checkpoint_id);
        }
    }
}

/// Reads with the first source's reader, then (after the switch) the second's.
pub struct HybridReader<S1: Source, S2: Source> {
    first: S1::Reader,
    second: Option<S2::Reader>,
    source2: Arc<S2>,
    ctx: TaskContext,
    switched: bool,
    pending_second: Vec<S2::Split>,
    no_more_second: bool,
}

impl<S1, S2> SourceReader for HybridReader<S1, S2>
where
    S1: Source,
    S2: Source<Output = S1::Output>,
{
    type Output = S1::Output;
    type Split = HybridSplit<S1::Split, S2::Split>;

    fn add_splits(&mut self, splits: Vec<Self::Split>) {
        let mut firsts = Vec::new();
        for split in splits {
            match split {
                HybridSplit::First(a) => firsts.push(a),
                HybridSplit::Second(b) => self.pending_second.push(b),
                HybridSplit::Switched => self.switched = true,
            }
        }
        if !firsts.is_empty() {
            self.first.add_splits(firsts);
        }
    }

    fn notify_no_more_splits(&mut self) {
        if self.switched {
            self.no_more_second = true;
        } else {
            self.first.notify_no_more_splits();
        }
    }

    async fn poll_next(&mut self, out: &mut Vec<Self::Output>) -> Result<ReadStatus> {
        if !self.switched {
            return Ok(match self.first.poll_next(out).await? {
                // Done with the first source: ask for work (the switch).
                ReadStatus::Finished | ReadStatus::NeedSplits => ReadStatus::NeedSplits,
                other => other,
            });
        }
        if self.second.is_none() {
            self.second = Some(self.source2.create_reader(&self.ctx).await?);
        }
        let Some(second) = self.second.as_mut() else { return Ok(ReadStatus::NothingAvailable) };
        if !self.pending_second.is_empty() {
            second.add_splits(std::mem::take(&mut self.pending_second));
        }
        if std::mem::take(&mut self.no_more_second) {
            second.notify_no_more_splits();
        }
        second.poll_next(out).await
    }

    async fn wait_available(&mut self) {
        match self.second.as_mut() {
            Some(second) if self.switched => second.wait_available().await,
            _ => self.first.wait_available().await,
        }
    }

    fn wants_checkpoint(&self) -> bool {
        match self.second.as_ref() {
            Some(second) if self.switched => second.wants_checkpoint(),
            _ => self.first.wants_checkpoint(),
        }
    }

    fn snapshot_state(&mut self, checkpoint_id: u64) -> Result<Vec<Self::Split>> {
        if !self.switched {
            return Ok(self.first.snapshot_state(checkpoint_id)?.into_iter().map(HybridSplit::First).collect());
        }
        let mut splits = vec![HybridSplit::Switched];
        if let Some(second) = self.second.as_mut() {
            splits.extend(second.snapshot_state(checkpoint_id)?.into_iter().map(HybridSplit::Second));
        }
        splits.extend(self.pending_second.iter().cloned().map(HybridSplit::Second));
        Ok(splits)
    }

    async fn notify_checkpoint_complete(&mut self, checkpoint_id: u64) -> Result<()> {
        match self.second.as_mut() {
            Some(second) => second.notify_checkpoint_complete(checkpoint_id).await,
            None => self.first.notify_checkpoint_complete(checkpoint_id).await,
        }
    }
}

//! A bounded source over an in-memory collection or a number sequence. Each split is
//! a range of indices with the next index to emit, so a restore resumes exactly where
//! the checkpoint was taken (exactly-once).

use std::collections::VecDeque;
use std::ops::Range;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::api::{Boundedness, ReadStatus, Source, SourceReader, SourceSplit, TaskContext};
use crate::error::{Result, StreamError};

/// A range `[next, end)` of record indices still to emit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CollectionSplit {
    /// First index of the range (identifies the split).
    pub start: u64,
    /// Next index to emit.
    pub next: u64,
    /// One past the last index.
    pub end: u64,
}

impl SourceSplit for CollectionSplit {
    fn split_id(&self) -> String {
        format!("{}-{}", self.start, self.end)
    }
}

/// Appends the records of an index range to a buffer (one call per batch).
type Generator<T> = Arc<dyn Fn(Range<u64>, &mut Vec<T>) + Send + Sync>;

/// Emits a `Vec` of records, or a sequence of numbers, split over the readers.
pub struct CollectionSource<T> {
    generator: Generator<T>,
    len: u64,
    splits_per_reader: u64,
    rate: Option<f64>,
}

impl<T: Clone + Send + Sync + 'static> CollectionSource<T> {
    /// Emit the elements of `items`.
    pub fn new(items: Vec<T>) -> Self {
        let items = Arc::new(items);
        let len = items.len() as u64;
        let generator: Generator<T> = Arc::new(move |range: Range<u64>, out: &mut Vec<T>| {
            out.extend_from_slice(&items[range.start as usize..range.end as usize])
        });
        CollectionSource { generator, len, splits_per_reader: 1, rate: None }
    }
}

impl<T: Send + 'static> CollectionSource<T> {
    /// Emit `f(0), f(1), ..., f(count - 1)`: deterministic, so a restore resumes the
    /// same sequence exactly.
    pub fn from_fn(count: u64, f: impl Fn(u64) -> T + Send + Sync + 'static) -> Self {
        let generator: Generator<T> = Arc::new(move |range: Range<u64>, out: &mut Vec<T>| out.extend(range.map(&f)));
        CollectionSource { generator, len: count, splits_per_reader: 1, rate: None }
    }
}

impl CollectionSource<u64> {
    /// Emit the numbers of `range`.
    pub fn sequence(range: Range<u64>) -> Self {
        let start = range.start;
        let len = range.end.saturating_sub(range.start);
        let generator: Generator<u64> =
            Arc::new(move |range: Range<u64>, out: &mut Vec<u64>| out.extend(range.map(|i| start + i)));
        CollectionSource { generator, len, splits_per_reader: 1, rate: None }
    }
}

impl<T> CollectionSource<T> {
    /// Cut the input into `n` splits per reader (default 1; more splits let readers
    /// that finish early take over work).
    pub fn splits_per_reader(mut self, n: u64) -> Result<Self> {
        if n == 0 {
            return Err(StreamError::invalid("splits_per_reader", 0, "at least one split per reader"));
        }
        self.splits_per_reader = n;
        Ok(self)
    }

    /// Emit at most `records_per_second` in total (spread over the readers).
    pub fn records_per_second(mut self, records_per_second: f64) -> Result<Self> {
        if !(records_per_second > 0.0 && records_per_second.is_finite()) {
            return Err(StreamError::invalid("records_per_second", records_per_second, "must be a positive number"));
        }
        self.rate = Some(records_per_second);
        Ok(self)
    }
}

impl<T: Send + Sync + 'static> Source for CollectionSource<T> {
    type Output = T;
    type Split = CollectionSplit;
    type EnumeratorState = Vec<CollectionSplit>;
    type Enumerator = CollectionEnumerator;
    type Reader = CollectionReader<T>;

    fn connector_name(&self) -> &'static str {
        "collection"
    }

    fn boundedness(&self) -> Boundedness {
        Boundedness::Bounded
    }

    async fn create_enumerator(
        &self,
        parallelism: usize,
        restored: Option<Vec<CollectionSplit>>,
    ) -> Result<CollectionEnumerator> {
        let remaining: Vec<CollectionSplit> = match restored {
            Some(splits) => splits,
            None => {
                let count = (parallelism as u64 * self.splits_per_reader).max(1);
                (0..count)
                    .map(|i| {
                        let (start, end) = (self.len * i / count, self.len * (i + 1) / count);
                        CollectionSplit { start, next: start, end }
                    })
                    .filter(|s| s.start < s.end)
                    .collect()
            }
        };
        Ok(CollectionEnumerator::new(remaining))
    }

    async fn create_reader(&self, ctx: &TaskContext) -> Result<CollectionReader<T>> {
        Ok(CollectionReader {
            generator: self.generator.clone(),
            splits: VecDeque::new(),
            no_more_splits: false,
            rate: self.rate.map(|r| r / ctx.parallelism as f64),
            started: Instant::now(),
            emitted: 0,
        })
    }
}

/// Hands out index ranges on request.
pub type CollectionEnumerator = super::FixedSplitEnumerator<CollectionSplit>;

/// Emits the ranges it was given.
pub struct CollectionReader<T> {
    generator: Generator<T>,
    splits: VecDeque<CollectionSplit>,
    no_more_splits: bool,
    rate: Option<f64>,
    started: Instant,
    emitted: u64,
}

const MAX_BATCH: u64 = 1024;

impl<T: Send + Sync + 'static> SourceReader for CollectionReader<T> {
    type Output = T;
    type Split = CollectionSplit;

    fn add_splits(&mut self, splits: Vec<CollectionSplit>) {
        self.splits.extend(splits);
    }

    fn notify_no_more_splits(&mut self) {
        self.no_more_splits = true;
    }

    async fn poll_next(&mut self, out: &mut Vec<T>) -> Result<ReadStatus> {
        let Some(split) = self.splits.front_mut() else {
            return Ok(if self.no_more_splits { ReadStatus::Finished } else { ReadStatus::NeedSplits });
        };
        let mut budget = MAX_BATCH;
        if let Some(rate) = self.rate {
            let allowed = (self.started.elapsed().as_secs_f64() * rate) as u64;
            budget = budget.min(allowed.saturating_sub(self.emitted));
            if budget == 0 {
                return Ok(ReadStatus::NothingAvailable);
            }
        }
        let end = split.end.min(split.next + budget);
        (self.generator)(split.next..end, out);
        self.emitted += end - split.next;
        split.next = end;
        if split.next >= split.end {
            self.splits.pop_front();
        }
        Ok(ReadStatus::MoreAvailable)
    }

    async fn wait_available(&mut self) {
        let pause = self.rate.map(|r| Duration::from_secs_f64((1.0 / r).min(0.05))).unwrap_or(Duration::from_millis(1));
        tokio::time::sleep(pause).await;
    }

    fn snapshot_state(&mut self, _checkpoint_id: u64) -> Result<Vec<CollectionSplit>> {
        Ok(self.splits.iter().cloned().collect())
    }
}

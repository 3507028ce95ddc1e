//! A [`SourceReader`] that reads many splits with background fetcher tasks (Flink's
//! `SourceReaderBase` with a `SplitFetcherManager`). A connector implements only
//! [`SplitFetcher::fetch`]; fetchers read ahead into a bounded queue, and the reader
//! advances a split's position only when it emits the records the position covers, so
//! snapshots are exact (exactly-once).
//!
//! Finished splits are reported to the enumerator
//! ([`SourceReader::take_finished_splits`]) and kept, at their end position, in the
//! snapshots until a checkpoint taken after the report completes: a restore from an
//! earlier checkpoint fetches them again, finds them finished and reports them again.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use stream_core::api::{ReadStatus, SourceReader, SourceSplit};
use stream_core::{Result, StreamError};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

/// What one fetch of a split produced.
#[derive(Debug)]
pub enum Fetch<R> {
    /// Records, in order; the split was advanced past them.
    Records(Vec<R>),
    /// Nothing new now (unbounded splits).
    Empty,
    /// The split is done (a bounded split's end, a closed shard).
    Finished,
}

/// Reads one kind of split. A fetcher task owns a clone and calls it repeatedly.
pub trait SplitFetcher: Send + 'static {
    /// The split type (with its position).
    type Split: SourceSplit;
    /// Records produced.
    type Record: Send + 'static;

    /// Read up to `max` records of `split` and advance its position past them. May
    /// wait for data, but should return within about a poll interval.
    fn fetch(
        &mut self,
        split: &mut Self::Split,
        max: usize,
    ) -> impl Future<Output = Result<Fetch<Self::Record>>> + Send;
}

/// Settings of a [`FetcherReader`].
#[derive(Debug, Clone)]
pub struct FetcherConfig {
    /// Fetcher tasks per reader (splits are spread over them).
    pub fetchers: usize,
    /// Records per fetch.
    pub batch_size: usize,
    /// Fetched batches buffered ahead of the reader.
    pub queue_capacity: usize,
    /// Pause after a round in which no split had data.
    pub idle_pause: Duration,
}

impl Default for FetcherConfig {
    fn default() -> Self {
        FetcherConfig { fetchers: 1, batch_size: 500, queue_capacity: 16, idle_pause: Duration::from_millis(10) }
    }
}

enum Delivery<S: SourceSplit, R> {
    Records { split: S, records: Vec<R> },
    Finished { split_id: String },
    Failed(String),
}

/// A split read to its end, kept until the enumerator surely knows.
struct FinishedSplit<S> {
    split: S,
    reported: bool,
    /// The first checkpoint snapshotted after the report.
    snapshotted_in: Option<u64>,
}

/// The splits a reader has read to their end, kept (at their end position) in its
/// snapshots until a checkpoint taken after they were reported to the enumerator
/// completes: a restore from an earlier checkpoint finds them finished and reports
/// them again. [`FetcherReader`] uses it; a reader of its own can too.
pub struct FinishedSplits<S> {
    splits: BTreeMap<String, FinishedSplit<S>>,
}

impl<S> Default for FinishedSplits<S> {
    fn default() -> Self {
        FinishedSplits { splits: BTreeMap::new() }
    }
}

impl<S: SourceSplit> FinishedSplits<S> {
    /// `split` is read to its end (not reported yet).
    pub fn insert(&mut self, split: S) {
        self.splits.insert(split.split_id(), FinishedSplit { split, reported: false, snapshotted_in: None });
    }

    /// Whether the split with this id is kept here.
    pub fn contains(&self, split_id: &str) -> bool {
        self.splits.contains_key(split_id)
    }

    /// The ids not reported yet, now reported ([`SourceReader::take_finished_splits`]).
    pub fn take_unreported(&mut self) -> Vec<String> {
        let mut ids = Vec::new();
        for (id, finished) in self.splits.iter_mut().filter(|(_, f)| !f.reported) {
            finished.reported = true;
            ids.push(id.clone());
        }
        ids
    }

    /// Checkpoint `checkpoint_id` is being taken: the splits to put in its snapshot.
    pub fn snapshot(&mut self, checkpoint_id: u64) -> impl Iterator<Item = &S> {
        for finished in self.splits.values_mut().filter(|f| f.reported && f.snapshotted_in.is_none()) {
            finished.snapshotted_in = Some(checkpoint_id);
        }
        self.splits.values().map(|f| &f.split)
    }

    /// Checkpoint `checkpoint_id` completed: forget the splits a checkpoint up to it
    /// snapshotted after their report.
    pub fn checkpoint_complete(&mut self, checkpoint_id: u64) {
        self.splits.retain(|_, f| f.snapshotted_in.is_none_or(|s| s > checkpoint_id));
    }
}

/// The reader; construct it in `Source::create_reader` with a fetcher factory.
pub struct FetcherReader<F: SplitFetcher> {
    config: FetcherConfig,
    make_fetcher: Box<dyn Fn() -> F + Send + Sync>,
    /// Splits by id, at the position of the records emitted so far.
    positions: BTreeMap<String, F::Split>,
    finished: FinishedSplits<F::Split>,
    fetchers: Vec<mpsc::UnboundedSender<F::Split>>,
    tasks: JoinSet<()>,
    deliveries: mpsc::Receiver<Delivery<F::Split, F::Record>>,
    sender: mpsc::Sender<Delivery<F::Split, F::Record>>,
    waiting: Option<Delivery<F::Split, F::Record>>,
    next_fetcher: usize,
    no_more_splits: bool,
}

impl<F: SplitFetcher> FetcherReader<F> {
    /// A reader whose fetcher tasks each get a fetcher from `make_fetcher`.
    pub fn new(config: FetcherConfig, make_fetcher: impl Fn() -> F + Send + Sync + 'static) -> Result<Self> {
        if config.fetchers == 0 || config.batch_size == 0 || config.queue_capacity == 0 {
            return Err(StreamError::invalid(
                "fetchers/batch_size/queue_capacity",
                format!("{}/{}/{}", config.fetchers, config.batch_size, config.queue_capacity),
                "each must be at least 1",
            ));
        }
        let (sender, deliveries) = mpsc::channel(config.queue_capacity);
        Ok(FetcherReader {
            config,
            make_fetcher: Box::new(make_fetcher),
            positions: BTreeMap::new(),
            finished: FinishedSplits::default(),
            fetchers: Vec::new(),
            tasks: JoinSet::new(),
            deliveries,
            sender,
            waiting: None,
            next_fetcher: 0,
            no_more_splits: false,
        })
    }

    fn fetcher_for_next_split(&mut self) -> &mpsc::UnboundedSender<F::Split> {
        if self.fetchers.len() < self.config.fetchers {
            let (tx, rx) = mpsc::unbounded_channel();
            let fetcher = (self.make_fetcher)();
            self.tasks.spawn(run_fetcher(fetcher, rx, self.sender.clone(), self.config.clone()));
            self.fetchers.push(tx);
        }
        let i = self.next_fetcher % self.fetchers.len();
        self.next_fetcher += 1;
        &self.fetchers[i]
    }

    fn next_delivery(&mut self) -> Option<Delivery<F::Split, F::Record>> {
        self.waiting.take().or_else(|| self.deliveries.try_recv().ok())
    }
}

async fn run_fetcher<F: SplitFetcher>(
    mut fetcher: F,
    mut assigned: mpsc::UnboundedReceiver<F::Split>,
    out: mpsc::Sender<Delivery<F::Split, F::Record>>,
    config: FetcherConfig,
) {
    let mut splits: Vec<F::Split> = Vec::new();
    loop {
        while let Ok(split) = assigned.try_recv() {
            splits.push(split);
        }
        if splits.is_empty() {
            match assigned.recv().await {
                Some(split) => splits.push(split),
                None => return,
            }
        }
        let mut any = false;
        let mut i = 0;
        while i < splits.len() {
            match fetcher.fetch(&mut splits[i], config.batch_size).await {
                Ok(Fetch::Records(records)) if !records.is_empty() => {
                    any = true;
                    let split = splits[i].clone();
                    if out.send(Delivery::Records { split, records }).await.is_err() {
                        return;
                    }
                    i += 1;
                }
                Ok(Fetch::Records(_)) | Ok(Fetch::Empty) => i += 1,
                Ok(Fetch::Finished) => {
                    let split = splits.remove(i);
                    if out.send(Delivery::Finished { split_id: split.split_id() }).await.is_err() {
                        return;
                    }
                }
                Err(e) => {
                    let _ = out.send(Delivery::Failed(format!("fetching split {}: {e}", splits[i].split_id()))).await;
                    return;
                }
            }
        }
        if !any {
            tokio::time::sleep(config.idle_pause).await;
        }
    }
}

impl<F: SplitFetcher> SourceReader for FetcherReader<F> {
    type Output = F::Record;
    type Split = F::Split;

    fn add_splits(&mut self, splits: Vec<F::Split>) {
        for split in splits {
            self.positions.insert(split.split_id(), split.clone());
            // A closed fetcher channel means the reader is being torn down.
            let _ = self.fetcher_for_next_split().send(split);
        }
    }

    fn notify_no_more_splits(&mut self) {
        self.no_more_splits = true;
    }

    async fn poll_next(&mut self, out: &mut Vec<F::Record>) -> Result<ReadStatus> {
        match self.next_delivery() {
            Some(Delivery::Records { split, mut records }) => {
                out.append(&mut records);
                self.positions.insert(split.split_id(), split);
                Ok(ReadStatus::MoreAvailable)
            }
            Some(Delivery::Finished { split_id }) => {
                if let Some(split) = self.positions.remove(&split_id) {
                    self.finished.insert(split);
                }
                Ok(ReadStatus::MoreAvailable)
            }
            Some(Delivery::Failed(message)) => Err(StreamError::Connector(message.into())),
            None if self.positions.is_empty() => {
                Ok(if self.no_more_splits { ReadStatus::Finished } else { ReadStatus::NeedSplits })
            }
            None => Ok(ReadStatus::NothingAvailable),
        }
    }

    async fn wait_available(&mut self) {
        if self.waiting.is_none() {
            // recv is cancel-safe; what arrives is kept for the next poll.
            self.waiting = self.deliveries.recv().await;
        }
    }

    fn take_finished_splits(&mut self) -> Vec<String> {
        self.finished.take_unreported()
    }

    fn snapshot_state(&mut self, checkpoint_id: u64) -> Result<Vec<F::Split>> {
        let finished = self.finished.snapshot(checkpoint_id).cloned();
        Ok(self.positions.values().cloned().chain(finished).collect())
    }

    /// Forget finished splits once a checkpoint snapshotted after their report
    /// completed: every later enumerator snapshot knows them finished.
    async fn notify_checkpoint_complete(&mut self, checkpoint_id: u64) -> Result<()> {
        self.finished.checkpoint_complete(checkpoint_id);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::{Deserialize, Serialize};

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct Counter {
        id: String,
        next: u32,
        end: u32,
    }

    impl SourceSplit for Counter {
        fn split_id(&self) -> String {
            self.id.clone()
        }
    }

    struct Counting;

    impl SplitFetcher for Counting {
        type Split = Counter;
        type Record = u32;

        async fn fetch(&mut self, split: &mut Counter, max: usize) -> Result<Fetch<u32>> {
            if split.next >= split.end {
                return Ok(Fetch::Finished);
            }
            let to = split.end.min(split.next + max as u32);
            let records = (split.next..to).collect();
            split.next = to;
            Ok(Fetch::Records(records))
        }
    }

    async fn read_until_reported(reader: &mut FetcherReader<Counting>, out: &mut Vec<u32>) -> Vec<String> {
        for _ in 0..1_000 {
            reader.poll_next(out).await.unwrap();
            let ids = reader.take_finished_splits();
            if !ids.is_empty() {
                return ids;
            }
            reader.wait_available().await;
        }
        panic!("no split reported finished");
    }

    #[tokio::test]
    async fn a_finished_split_is_reported_once_and_kept_until_a_later_checkpoint_completes() {
        let config = FetcherConfig { batch_size: 4, ..FetcherConfig::default() };
        let mut reader = FetcherReader::new(config, || Counting).unwrap();
        reader.add_splits(vec![Counter { id: "a".into(), next: 0, end: 10 }]);
        let mut out = Vec::new();
        assert_eq!(read_until_reported(&mut reader, &mut out).await, vec!["a".to_string()]);
        assert_eq!(out, (0..10).collect::<Vec<_>>());
        assert!(reader.take_finished_splits().is_empty(), "reported once");
        // Checkpoint 7 was taken after the report; completing 6 keeps the split.
        let at_end = Counter { id: "a".into(), next: 10, end: 10 };
        assert_eq!(reader.snapshot_state(7).unwrap(), vec![at_end.clone()]);
        reader.notify_checkpoint_complete(6).await.unwrap();
        assert_eq!(reader.snapshot_state(8).unwrap(), vec![at_end]);
        reader.notify_checkpoint_complete(7).await.unwrap();
        assert!(reader.snapshot_state(9).unwrap().is_empty());
        assert_eq!(reader.poll_next(&mut out).await.unwrap(), ReadStatus::NeedSplits);
    }
}

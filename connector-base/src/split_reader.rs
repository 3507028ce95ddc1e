//! A [`SourceReader`] that reads many splits with background fetcher tasks (Flink's
//! `SourceReaderBase` with a `SplitFetcherManager`). A connector implements only
//! [`SplitFetcher::fetch`]; fetchers read ahead into a bounded queue, and the reader
//! advances a split's position only when it emits the records the position covers, so
//! snapshots are exact (exactly-once).

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

/// The reader; construct it in `Source::create_reader` with a fetcher factory.
pub struct FetcherReader<F: SplitFetcher> {
    config: FetcherConfig,
    make_fetcher: Box<dyn Fn() -> F + Send + Sync>,
    /// Splits by id, at the position of the records emitted so far.
    positions: BTreeMap<String, F::Split>,
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
                self.positions.remove(&split_id);
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

    fn snapshot_state(&mut self, _checkpoint_id: u64) -> Result<Vec<F::Split>> {
        Ok(self.positions.values().cloned().collect())
    }
}

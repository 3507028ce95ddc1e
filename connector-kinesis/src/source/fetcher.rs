//! The reader's [`SplitFetcher`]: polling (`GetRecords`) or enhanced fan-out
//! (`SubscribeToShard`), as configured.

use connector_base::split_reader::{Fetch, SplitFetcher};
use stream_core::Result;

use super::fan_out::FanOutFetcher;
use super::polling::PollingFetcher;
use super::record::KinesisRecord;
use super::split::ShardSplit;

/// Reads the shards of one fetcher task.
pub enum ShardFetcher {
    /// `GetShardIterator` and `GetRecords`.
    Polling(PollingFetcher),
    /// `SubscribeToShard` with a registered consumer.
    FanOut(FanOutFetcher),
}

impl SplitFetcher for ShardFetcher {
    type Split = ShardSplit;
    type Record = KinesisRecord;

    async fn fetch(&mut self, split: &mut ShardSplit, max: usize) -> Result<Fetch<KinesisRecord>> {
        match self {
            ShardFetcher::Polling(fetcher) => fetcher.fetch(split, max).await,
            ShardFetcher::FanOut(fetcher) => fetcher.fetch(split).await,
        }
    }
}

//! [`crate::KinesisStreamsSource`]: one split per shard, the last emitted sequence
//! number in checkpoint state (exactly-once), shards read parent-first, by polling or
//! with enhanced fan-out.

mod consumer;
mod enumerator;
mod fan_out;
mod fetcher;
mod lineage;
mod polling;
mod record;
mod retry;
mod split;

use connector_base::split_reader::{FetcherConfig, FetcherReader};
use stream_core::Result;
use stream_core::api::{Boundedness, Source, TaskContext};

pub use enumerator::{KinesisEnumerator, KinesisEnumeratorState};
pub use fan_out::FanOutFetcher;
pub use fetcher::ShardFetcher;
pub use polling::PollingFetcher;
pub use record::KinesisRecord;
pub use split::{ShardPosition, ShardSplit};

use crate::config::KinesisStreamsSource;
use crate::stream;

impl Source for KinesisStreamsSource {
    type Output = KinesisRecord;
    type Split = ShardSplit;
    type EnumeratorState = KinesisEnumeratorState;
    type Enumerator = KinesisEnumerator;
    type Reader = FetcherReader<ShardFetcher>;

    fn connector_name(&self) -> &'static str {
        "kinesis"
    }

    fn boundedness(&self) -> Boundedness {
        Boundedness::ContinuousUnbounded
    }

    async fn create_enumerator(
        &self,
        _parallelism: usize,
        restored: Option<KinesisEnumeratorState>,
    ) -> Result<KinesisEnumerator> {
        let created_ms = stream::check_exists(&self.sdk, &self.stream).await?;
        Ok(KinesisEnumerator::new(self.clone(), restored, created_ms))
    }

    async fn create_reader(&self, ctx: &TaskContext) -> Result<FetcherReader<ShardFetcher>> {
        let client = aws_sdk_kinesis::Client::new(&self.sdk);
        let config =
            FetcherConfig { fetchers: self.fetchers, batch_size: self.get_records_max, ..FetcherConfig::default() };
        let (stream, idle, retry) = (self.stream.clone(), self.idle_poll_interval, self.retry.clone());
        let metrics = ctx.source_metrics();
        match &self.fan_out_consumer {
            None => FetcherReader::new(config, move || {
                ShardFetcher::Polling(PollingFetcher::new(
                    client.clone(),
                    stream.clone(),
                    idle,
                    retry.clone(),
                    metrics.clone(),
                ))
            }),
            Some(name) => {
                let arn = consumer::consumer_arn(&self.sdk, &self.stream, name).await?;
                FetcherReader::new(config, move || {
                    ShardFetcher::FanOut(FanOutFetcher::new(
                        client.clone(),
                        stream.clone(),
                        arn.clone(),
                        retry.clone(),
                        metrics.clone(),
                    ))
                })
            }
        }
    }
}

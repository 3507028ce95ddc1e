//! Reading shards by polling: `GetShardIterator`, then `GetRecords` with the next
//! iterator. A shard is finished when `GetRecords` returns no next iterator (a closed
//! shard read to its end). An expired iterator is acquired again after the last
//! emitted record.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use connector_base::split_reader::Fetch;
use stream_core::Result;
use stream_core::metrics::SourceMetrics;
use stream_core::retry::RetryPolicy;

use super::record::{KinesisRecord, fetched};
use super::retry::{Failure, ShardRetry};
use super::split::{ShardPosition, ShardSplit};

/// Per-shard state of a polling fetcher.
#[derive(Debug)]
struct PolledShard {
    iterator: Option<String>,
    closed: bool,
    retry: ShardRetry,
}

/// Polls the shards given to one fetcher task.
pub struct PollingFetcher {
    client: aws_sdk_kinesis::Client,
    stream: String,
    idle_poll_interval: Duration,
    retry: RetryPolicy,
    shards: HashMap<String, PolledShard>,
    metrics: SourceMetrics,
}

impl PollingFetcher {
    pub(crate) fn new(
        client: aws_sdk_kinesis::Client,
        stream: String,
        idle_poll_interval: Duration,
        retry: RetryPolicy,
        metrics: SourceMetrics,
    ) -> Self {
        PollingFetcher { client, stream, idle_poll_interval, retry, shards: HashMap::new(), metrics }
    }

    pub(crate) async fn fetch(&mut self, split: &mut ShardSplit, max: usize) -> Result<Fetch<KinesisRecord>> {
        let mut state = self.shards.remove(&split.shard_id).unwrap_or_else(|| PolledShard {
            iterator: None,
            closed: false,
            retry: ShardRetry::new(&self.retry),
        });
        let fetched = self.fetch_shard(&mut state, split, max).await;
        if !matches!(fetched, Ok(Fetch::Finished)) {
            self.shards.insert(split.shard_id.clone(), state);
        }
        fetched
    }

    async fn fetch_shard(
        &self,
        state: &mut PolledShard,
        split: &mut ShardSplit,
        max: usize,
    ) -> Result<Fetch<KinesisRecord>> {
        if state.closed {
            return Ok(Fetch::Finished);
        }
        if state.retry.waiting() {
            return Ok(Fetch::Empty);
        }
        let shard = split.shard_id.as_str();
        let iterator = match state.iterator.take() {
            Some(iterator) => iterator,
            None => match split.position.iterator(&self.client, &self.stream, shard).await {
                Ok(Some(iterator)) => iterator,
                // No iterator: a closed shard with nothing after the position.
                Ok(None) => return Ok(Fetch::Finished),
                Err(error) => {
                    state.retry.failed(&self.stream, shard, Failure::of("GetShardIterator", &error))?;
                    return Ok(Fetch::Empty);
                }
            },
        };
        let limit = i32::try_from(max).unwrap_or(10_000).clamp(1, 10_000);
        let output = match self.client.get_records().shard_iterator(&iterator).limit(limit).send().await {
            Ok(output) => output,
            Err(error) => {
                let failure = Failure::of("GetRecords", &error);
                if failure.is("ExpiredIteratorException") {
                    tracing::info!(stream = %self.stream, shard, "shard iterator expired; acquiring a new one");
                    return Ok(Fetch::Empty);
                }
                state.retry.failed(&self.stream, shard, failure)?;
                state.iterator = Some(iterator);
                return Ok(Fetch::Empty);
            }
        };
        state.retry.succeeded();
        match output.next_shard_iterator() {
            Some(next) => state.iterator = Some(next.to_string()),
            None => state.closed = true,
        }
        let records = fetched(shard, output.records(), output.millis_behind_latest(), &self.metrics);
        if let Some(last) = records.last() {
            split.position = ShardPosition::AfterSequenceNumber(last.sequence_number.clone());
            return Ok(Fetch::Records(records));
        }
        if state.closed {
            return Ok(Fetch::Finished);
        }
        state.retry.not_before = Some(Instant::now() + self.idle_poll_interval);
        Ok(Fetch::Empty)
    }
}

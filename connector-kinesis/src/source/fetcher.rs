//! Reads shards with `GetShardIterator` and `GetRecords` for one fetcher task of a
//! reader (connector-base's [`SplitFetcher`]). A shard is finished when `GetRecords`
//! returns no next iterator (a closed shard read to its end). Expired iterators are
//! acquired again after the last emitted sequence number; throttling backs off; a
//! connection that keeps failing fails the reader after a while (the job then
//! restarts from its checkpoint).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use aws_sdk_kinesis::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_kinesis::operation::get_shard_iterator::GetShardIteratorError;
use aws_sdk_kinesis::primitives::DateTime;
use aws_sdk_kinesis::types::ShardIteratorType;
use connector_base::aws;
use connector_base::split_reader::{Fetch, SplitFetcher};
use stream_core::Result;

use super::record::KinesisRecord;
use super::split::{ShardPosition, ShardSplit};
use crate::error::KinesisError;

/// How long calls for a shard may keep failing on the way before the reader fails.
const FAIL_AFTER: Duration = Duration::from_secs(30);

/// Error codes that mean "too fast, try later".
const THROTTLED: &[&str] = &[
    "ProvisionedThroughputExceededException",
    "LimitExceededException",
    "ThrottlingException",
    "KMSThrottlingException",
    "InternalFailure",
    "ServiceUnavailable",
];

/// Per-shard reading state of this fetcher.
#[derive(Debug, Default)]
struct ShardState {
    iterator: Option<String>,
    closed: bool,
    not_before: Option<Instant>,
    backoff: Duration,
    failing_since: Option<Instant>,
}

/// Polls the shards given to one fetcher task.
pub struct ShardFetcher {
    pub(crate) client: aws_sdk_kinesis::Client,
    pub(crate) stream: String,
    pub(crate) idle_poll_interval: Duration,
    shards: HashMap<String, ShardState>,
}

/// What a failed call means for the shard.
enum Failure {
    /// Retry after a pause (throttled, or failing on the way for less than a while).
    Later,
    /// The iterator expired: acquire a new one from the position.
    Expired,
}

impl ShardFetcher {
    pub(crate) fn new(client: aws_sdk_kinesis::Client, stream: String, idle_poll_interval: Duration) -> Self {
        ShardFetcher { client, stream, idle_poll_interval, shards: HashMap::new() }
    }

    /// Sort out a failed call: throttling and transport failures back off (the latter
    /// for at most [`FAIL_AFTER`]), anything else fails the reader naming the code.
    fn failed<E, R>(
        &self,
        state: &mut ShardState,
        shard: &str,
        operation: &'static str,
        error: &SdkError<E, R>,
    ) -> Result<Failure>
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        let now = Instant::now();
        match aws::service_error(error) {
            Some((code, _)) if code == "ExpiredIteratorException" => {
                tracing::info!(stream = %self.stream, shard, "shard iterator expired; acquiring a new one");
                return Ok(Failure::Expired);
            }
            Some((code, _)) if THROTTLED.contains(&code.as_str()) => {
                tracing::debug!(stream = %self.stream, shard, %code, "throttled; backing off");
            }
            Some((code, message)) => {
                return Err(KinesisError::Rejected { stream: self.stream.clone(), operation, code, message }.into());
            }
            None => {
                let since = *state.failing_since.get_or_insert(now);
                if now.duration_since(since) > FAIL_AFTER {
                    return Err(KinesisError::Unreachable {
                        stream: self.stream.clone(),
                        shard: shard.to_string(),
                        seconds: FAIL_AFTER.as_secs(),
                        message: format!("{error} ({error:?})").chars().take(400).collect(),
                    }
                    .into());
                }
                tracing::warn!(stream = %self.stream, shard, error = %error, "{operation} failed on the way; retrying");
            }
        }
        state.backoff = (state.backoff * 2).clamp(Duration::from_millis(100), Duration::from_secs(2));
        state.not_before = Some(now + state.backoff);
        Ok(Failure::Later)
    }

    async fn acquire_iterator(
        &self,
        split: &ShardSplit,
    ) -> std::result::Result<Option<String>, SdkError<GetShardIteratorError>> {
        let call = self.client.get_shard_iterator().stream_name(&self.stream).shard_id(&split.shard_id);
        let call = match &split.position {
            ShardPosition::TrimHorizon => call.shard_iterator_type(ShardIteratorType::TrimHorizon),
            ShardPosition::AtTimestamp(ms) => {
                call.shard_iterator_type(ShardIteratorType::AtTimestamp).timestamp(DateTime::from_millis(*ms))
            }
            ShardPosition::AtSequenceNumber(seq) => {
                call.shard_iterator_type(ShardIteratorType::AtSequenceNumber).starting_sequence_number(seq)
            }
            ShardPosition::AfterSequenceNumber(seq) => {
                call.shard_iterator_type(ShardIteratorType::AfterSequenceNumber).starting_sequence_number(seq)
            }
        };
        call.send().await.map(|out| out.shard_iterator().map(str::to_string))
    }
}

impl SplitFetcher for ShardFetcher {
    type Split = ShardSplit;
    type Record = KinesisRecord;

    async fn fetch(&mut self, split: &mut ShardSplit, max: usize) -> Result<Fetch<KinesisRecord>> {
        let mut state = self.shards.remove(&split.shard_id).unwrap_or_default();
        let fetched = self.fetch_shard(&mut state, split, max).await;
        if !matches!(fetched, Ok(Fetch::Finished)) {
            self.shards.insert(split.shard_id.clone(), state);
        }
        fetched
    }
}

impl ShardFetcher {
    async fn fetch_shard(
        &mut self,
        state: &mut ShardState,
        split: &mut ShardSplit,
        max: usize,
    ) -> Result<Fetch<KinesisRecord>> {
        if state.closed {
            return Ok(Fetch::Finished);
        }
        if state.not_before.is_some_and(|t| Instant::now() < t) {
            return Ok(Fetch::Empty);
        }
        let iterator = match state.iterator.take() {
            Some(iterator) => iterator,
            None => match self.acquire_iterator(split).await {
                Ok(Some(iterator)) => iterator,
                // No iterator: a closed shard with nothing after the position.
                Ok(None) => return Ok(Fetch::Finished),
                Err(error) => {
                    self.failed(state, &split.shard_id, "GetShardIterator", &error)?;
                    return Ok(Fetch::Empty);
                }
            },
        };
        let limit = i32::try_from(max).unwrap_or(10_000).clamp(1, 10_000);
        let output = match self.client.get_records().shard_iterator(&iterator).limit(limit).send().await {
            Ok(output) => output,
            Err(error) => {
                if let Failure::Later = self.failed(state, &split.shard_id, "GetRecords", &error)? {
                    state.iterator = Some(iterator);
                }
                return Ok(Fetch::Empty);
            }
        };
        state.failing_since = None;
        state.backoff = Duration::ZERO;
        state.not_before = None;
        match output.next_shard_iterator() {
            Some(next) => state.iterator = Some(next.to_string()),
            None => state.closed = true,
        }
        let records: Vec<KinesisRecord> = output
            .records()
            .iter()
            .map(|r| KinesisRecord {
                shard_id: split.shard_id.clone(),
                sequence_number: r.sequence_number().to_string(),
                partition_key: r.partition_key().unwrap_or_default().to_string(),
                data: r.data().as_ref().to_vec(),
                approximate_arrival_millis: r.approximate_arrival_timestamp().and_then(|t| t.to_millis().ok()),
            })
            .collect();
        if let Some(last) = records.last() {
            split.position = ShardPosition::AfterSequenceNumber(last.sequence_number.clone());
            return Ok(Fetch::Records(records));
        }
        if state.closed {
            return Ok(Fetch::Finished);
        }
        state.not_before = Some(Instant::now() + self.idle_poll_interval);
        Ok(Fetch::Empty)
    }
}

//! Reading shards with enhanced fan-out: one `SubscribeToShard` per shard pushes
//! records to a task that hands them over through a channel (so that `fetch` stays
//! cancel-safe and quick). A subscription ends after about five minutes and is made
//! again after the last continuation sequence number; the shard is finished when an
//! event names its child shards (a closed shard read to its end). Servers that never
//! name them (kinesis-local) are covered by a check after quiet events, at most every
//! [`END_CHECK_INTERVAL`] per shard: `GetRecords` after the last continuation that
//! finds nothing and no next iterator means the shard is closed and read. After a
//! restore the subscription starts after the last emitted record, as polling does.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use aws_sdk_kinesis::types::{StartingPosition, SubscribeToShardEventStream};
use connector_base::split_reader::Fetch;
use stream_core::metrics::SourceMetrics;
use stream_core::retry::RetryPolicy;
use stream_core::{Result, StreamError};
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TryRecvError;
use tokio::task::JoinHandle;

use super::record::{KinesisRecord, fetched};
use super::retry::{Failure, ShardRetry};
use super::split::{ShardPosition, ShardSplit};

/// How often a quiet shard is checked for having been closed and read to its end.
const END_CHECK_INTERVAL: Duration = Duration::from_secs(5);

/// Events a subscription task hands over.
enum Event {
    Records {
        records: Vec<KinesisRecord>,
        continuation: String,
        closed: bool,
    },
    /// The subscription ended (after its five minutes): subscribe again.
    Ended,
    Failed(Failure),
}

/// A running subscription; its task stops when this is dropped.
struct Subscription {
    events: mpsc::Receiver<Event>,
    task: JoinHandle<()>,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Per-shard state of a fan-out fetcher.
struct FannedShard {
    subscription: Option<Subscription>,
    /// Where the next subscription of this attempt starts (after the last event).
    continuation: Option<String>,
    closed: bool,
    retry: ShardRetry,
    last_end_check: Option<Instant>,
}

/// Subscribes to the shards given to one fetcher task.
pub struct FanOutFetcher {
    client: aws_sdk_kinesis::Client,
    stream: String,
    consumer_arn: String,
    retry: RetryPolicy,
    shards: HashMap<String, FannedShard>,
    metrics: SourceMetrics,
}

/// The subscription of a shard that a crashed attempt held may still be open for a
/// moment: that refusal (`ResourceInUseException`; some servers send it inside the
/// event stream, where the SDK cannot read its code) means "try again later".
fn subscribe_failure(mut failure: Failure) -> Failure {
    if let Some((code, message)) = &mut failure.service
        && message.contains("active subscription")
    {
        *code = "ResourceInUseException".to_string();
    }
    failure
}

async fn subscribe(
    client: aws_sdk_kinesis::Client,
    consumer_arn: String,
    shard: String,
    start: StartingPosition,
    out: mpsc::Sender<Event>,
    metrics: SourceMetrics,
) {
    let sent = client.subscribe_to_shard().consumer_arn(consumer_arn).shard_id(&shard).starting_position(start).send();
    let mut output = match sent.await {
        Ok(output) => output,
        Err(error) => {
            let _ = out.send(Event::Failed(subscribe_failure(Failure::of("SubscribeToShard", &error)))).await;
            return;
        }
    };
    loop {
        let event = match output.event_stream.recv().await {
            Ok(Some(SubscribeToShardEventStream::SubscribeToShardEvent(event))) => event,
            Ok(Some(_)) => continue,
            Ok(None) => {
                let _ = out.send(Event::Ended).await;
                return;
            }
            Err(error) => {
                let _ = out.send(Event::Failed(subscribe_failure(Failure::of("SubscribeToShard", &error)))).await;
                return;
            }
        };
        let records = fetched(&shard, event.records(), Some(event.millis_behind_latest()), &metrics);
        let continuation = event.continuation_sequence_number().to_string();
        let closed = !event.child_shards().is_empty();
        if out.send(Event::Records { records, continuation, closed }).await.is_err() || closed {
            return;
        }
    }
}

impl FannedShard {
    /// Where reading of `split` resumes: after the last continuation of this attempt,
    /// or at the split's position.
    fn resume_at(&self, split: &ShardSplit) -> ShardPosition {
        match &self.continuation {
            Some(seq) => ShardPosition::AfterSequenceNumber(seq.clone()),
            None => split.position.clone(),
        }
    }
}

impl FanOutFetcher {
    pub(crate) fn new(
        client: aws_sdk_kinesis::Client,
        stream: String,
        consumer_arn: String,
        retry: RetryPolicy,
        metrics: SourceMetrics,
    ) -> Self {
        FanOutFetcher { client, stream, consumer_arn, retry, shards: HashMap::new(), metrics }
    }

    pub(crate) async fn fetch(&mut self, split: &mut ShardSplit) -> Result<Fetch<KinesisRecord>> {
        let mut state = self.shards.remove(&split.shard_id).unwrap_or_else(|| FannedShard {
            subscription: None,
            continuation: None,
            closed: false,
            retry: ShardRetry::new(&self.retry),
            last_end_check: None,
        });
        let fetched = self.fetch_shard(&mut state, split).await;
        if !matches!(fetched, Ok(Fetch::Finished)) {
            self.shards.insert(split.shard_id.clone(), state);
        }
        fetched
    }

    async fn fetch_shard(&self, state: &mut FannedShard, split: &mut ShardSplit) -> Result<Fetch<KinesisRecord>> {
        if state.closed {
            return Ok(Fetch::Finished);
        }
        let Some(subscription) = state.subscription.as_mut() else {
            if !state.retry.waiting() {
                state.subscription = Some(self.start(&split.shard_id, state.resume_at(split))?);
            }
            return Ok(Fetch::Empty);
        };
        match subscription.events.try_recv() {
            Ok(Event::Records { records, continuation, closed }) => {
                state.retry.succeeded();
                if !continuation.is_empty() {
                    state.continuation = Some(continuation);
                }
                state.closed = closed;
                if let Some(last) = records.last() {
                    split.position = ShardPosition::AfterSequenceNumber(last.sequence_number.clone());
                    return Ok(Fetch::Records(records));
                }
                if !closed && state.last_end_check.is_none_or(|t| t.elapsed() >= END_CHECK_INTERVAL) {
                    state.last_end_check = Some(Instant::now());
                    state.closed = self.read_to_its_end(&split.shard_id, &state.resume_at(split)).await;
                }
                Ok(if state.closed { Fetch::Finished } else { Fetch::Empty })
            }
            Ok(Event::Ended) | Err(TryRecvError::Disconnected) => {
                state.subscription = None;
                Ok(Fetch::Empty)
            }
            Ok(Event::Failed(failure)) => {
                state.subscription = None;
                state.retry.failed(&self.stream, &split.shard_id, failure)?;
                Ok(Fetch::Empty)
            }
            Err(TryRecvError::Empty) => Ok(Fetch::Empty),
        }
    }

    /// Whether nothing follows `position` in closed shard `shard`. A failed check is
    /// only logged: the next quiet event checks again.
    async fn read_to_its_end(&self, shard: &str, position: &ShardPosition) -> bool {
        let iterator = match position.iterator(&self.client, &self.stream, shard).await {
            Ok(Some(iterator)) => iterator,
            Ok(None) => return true,
            Err(e) => {
                tracing::debug!(shard, error = %e, "end-of-shard check failed");
                return false;
            }
        };
        match self.client.get_records().shard_iterator(iterator).limit(1).send().await {
            Ok(out) => out.records().is_empty() && out.next_shard_iterator().is_none(),
            Err(e) => {
                tracing::debug!(shard, error = %e, "end-of-shard check failed");
                false
            }
        }
    }

    /// Subscribe to `shard` at `position`.
    fn start(&self, shard: &str, position: ShardPosition) -> Result<Subscription> {
        let (kind, sequence, timestamp) = position.as_kinesis();
        let start = StartingPosition::builder().r#type(kind).set_sequence_number(sequence).set_timestamp(timestamp);
        let start = start.build().map_err(|e| StreamError::invalid("starting position", e, "Kinesis refused it"))?;
        let (tx, events) = mpsc::channel(4);
        let task = tokio::spawn(subscribe(
            self.client.clone(),
            self.consumer_arn.clone(),
            shard.to_string(),
            start,
            tx,
            self.metrics.clone(),
        ));
        tracing::debug!(stream = %self.stream, shard, ?position, "subscribing to shard");
        Ok(Subscription { events, task })
    }
}

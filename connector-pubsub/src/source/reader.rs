//! Receives with streaming pull (the client extends the leases and keeps at most
//! `max_outstanding_messages` unacknowledged). At-least-once: each message's ack
//! handle is kept with the checkpoint taken after it and acknowledged when that
//! checkpoint completes; a restart drops the handles, which nacks them, so Pub/Sub
//! sends them again at once. Exactly-once (on an exactly-once subscription, where a
//! confirmed ack means no redelivery): the ids of messages emitted and not confirmed
//! acknowledged are part of the checkpoint; after a restore their redeliveries are
//! acknowledged (with the next checkpoint) and dropped. A failed confirmed ack keeps
//! the id, so its redelivery is dropped too. Restored ids that do not come back
//! within the longest ack deadline Pub/Sub allows (10 min) are forgotten. The reader
//! takes no more messages while it holds the outstanding limits unacknowledged (the
//! service stops sending at them; the emulator does not). With an end-of-stream
//! predicate, the reader finishes at the first end record; the stream stays open until
//! the final checkpoint has acknowledged what was emitted, then closes, nacking the rest.

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use connector_base::DeliveryGuarantee;
use connector_base::schema::BadRecords;
use futures::stream::BoxStream;
use futures::{FutureExt, StreamExt};
use google_cloud_pubsub::model::Message;
use google_cloud_pubsub::subscriber::ShutdownBehavior;
use google_cloud_pubsub::subscriber::handler::Handler;
use stream_core::Result;
use stream_core::api::{ReadStatus, SourceReader};

use super::split::SubscriptionSplit;
use crate::config::PubSubSource;
use crate::error::PubSubError;
use crate::message::ReceivedMessage;

/// Messages taken per `poll_next`.
const BATCH: usize = 500;

/// How long restored ids are kept for their redelivery: Pub/Sub's longest ack
/// deadline (a message not acknowledged comes back within it) and a margin.
const RESTORED_RETENTION: Duration = Duration::from_secs(15 * 60);

/// The longest the subscription lookup at start is waited for.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(30);

/// The longest the confirmed acks of one checkpoint are waited for.
const CONFIRM_TIMEOUT: Duration = Duration::from_secs(60);

type Received = google_cloud_pubsub::Result<(Message, Handler)>;

type MessageStream = BoxStream<'static, Received>;

/// A message received and not yet acknowledged.
struct Unacked {
    id: String,
    bytes: i64,
    handler: Handler,
}

/// Streaming pulls left by readers of failed attempts in this process, by
/// subscription and subtask: the next attempt's reader takes its one over instead of
/// opening another. What the old reader had received and not acknowledged is nacked
/// when its handles drop, and comes again on the same stream. Cancelling a streaming
/// pull instead left it registered in the Pub/Sub emulator (0.8.20 fails to close a
/// cancelled stream: `NoSuchMethodError` in grpc's `closedInternal`), where it kept
/// taking messages that nobody received; a restart also costs no new connection.
/// A stream no attempt took over within this (a job that ended, not failed) is
/// closed, so that what it holds goes back to the subscription.
static LEFT_BEHIND: std::sync::Mutex<Vec<(StreamKey, u64, MessageStream)>> = std::sync::Mutex::new(Vec::new());

/// Subscription and subtask.
type StreamKey = (String, usize);

/// How long a left stream waits for the next attempt.
const LEFT_BEHIND_FOR: Duration = Duration::from_secs(60);

fn take_left_behind(key: &StreamKey) -> Option<MessageStream> {
    let mut left = LEFT_BEHIND.lock().unwrap_or_else(|p| p.into_inner());
    let at = left.iter().position(|(k, _, _)| k == key)?;
    Some(left.swap_remove(at).2)
}

fn leave_behind(key: StreamKey, stream: MessageStream) {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let id = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    LEFT_BEHIND.lock().unwrap_or_else(|p| p.into_inner()).push((key, id, stream));
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        runtime.spawn(async move {
            tokio::time::sleep(LEFT_BEHIND_FOR).await;
            let closed = {
                let mut left = LEFT_BEHIND.lock().unwrap_or_else(|p| p.into_inner());
                left.iter().position(|(_, i, _)| *i == id).map(|at| left.swap_remove(at))
            };
            drop(closed);
        });
    }
}

/// The reader of one subtask.
pub struct PubSubReader<T: 'static> {
    source: PubSubSource<T>,
    bad: BadRecords,
    splits: Vec<SubscriptionSplit>,
    /// No split will come (a single-reader source on a replica other than 0).
    no_more_splits: bool,
    stream: Option<MessageStream>,
    waiting: Option<Received>,
    /// Handles (with their message ids) received since the last snapshot.
    since_snapshot: Vec<Unacked>,
    /// Checkpoint -> the handles it covers.
    by_checkpoint: BTreeMap<u64, Vec<Unacked>>,
    /// Exactly-once: ids emitted or dropped by this attempt, ack not yet confirmed.
    unconfirmed: HashSet<String>,
    /// Exactly-once: ids restored from the checkpoint, and until when they are kept.
    restored: HashSet<String>,
    restored_until: Option<Instant>,
    /// A record for which the end-of-stream predicate holds was received.
    ended: bool,
    /// Messages and payload bytes received and not yet acknowledged.
    held: (i64, i64),
}

impl<T: Send + 'static> PubSubReader<T> {
    pub(crate) fn new(source: &PubSubSource<T>) -> Self {
        PubSubReader {
            source: source.clone(),
            bad: BadRecords::new(source.bad_records.clone()),
            splits: Vec::new(),
            no_more_splits: false,
            stream: None,
            waiting: None,
            since_snapshot: Vec::new(),
            by_checkpoint: BTreeMap::new(),
            unconfirmed: HashSet::new(),
            restored: HashSet::new(),
            restored_until: None,
            ended: false,
            held: (0, 0),
        }
    }

    /// Report how many received messages this reader holds unacknowledged (what the
    /// outstanding limit bounds).
    fn report_unacked(&self) {
        metrics::gauge!("pubsub_source_unacked_messages", "subscription" => self.source.subscription.clone())
            .set(self.held.0 as f64);
    }

    /// Whether the reader holds as many unacknowledged messages (or bytes) as the
    /// outstanding limits allow. Pub/Sub stops sending at the limit too, but the
    /// emulator does not, and the bound on what a job holds must not depend on it.
    fn at_limit(&self) -> bool {
        self.held.0 >= self.source.max_outstanding_messages || self.held.1 >= self.source.max_outstanding_bytes
    }

    fn subtask(&self) -> usize {
        self.splits.first().map_or(0, |s| s.subtask)
    }

    fn exactly_once(&self) -> bool {
        self.source.guarantee == DeliveryGuarantee::ExactlyOnce
    }

    /// Check the subscription (it exists; exactly-once delivery when asked for) and
    /// start pulling.
    async fn start(&mut self) -> Result<()> {
        let s = &self.source;
        let admin = s.endpoint.subscription_admin().await?;
        let lookup = admin.get_subscription().set_subscription(&s.subscription).send();
        let subscription = tokio::time::timeout(LOOKUP_TIMEOUT, lookup)
            .await
            .map_err(|_| PubSubError::Subscription {
                subscription: s.subscription.clone(),
                message: format!("no answer to the subscription lookup within {LOOKUP_TIMEOUT:?}"),
            })?
            .map_err(|source| {
                use google_cloud_gax::error::rpc::Code;
                let refused = matches!(
                    source.status().map(|status| status.code),
                    Some(Code::NotFound | Code::PermissionDenied | Code::InvalidArgument)
                );
                let error = PubSubError::Lookup { subscription: s.subscription.clone(), source };
                // A missing subscription or refused credentials: no restart heals them.
                if refused { stream_core::StreamError::permanent(error) } else { error.into() }
            })?;
        if self.exactly_once() && !subscription.enable_exactly_once_delivery {
            return Err(PubSubError::NotExactlyOnce(s.subscription.clone()).into());
        }
        let key = (s.subscription.clone(), self.subtask());
        if let Some(stream) = take_left_behind(&key) {
            tracing::info!(subscription = %s.subscription, "receiving on the stream of the failed attempt");
            self.stream = Some(stream);
            return Ok(());
        }
        let subscriber = s.endpoint.subscriber().await?;
        let messages = subscriber
            .subscribe(&s.subscription)
            .set_max_outstanding_messages(s.max_outstanding_messages)
            .set_max_outstanding_bytes(s.max_outstanding_bytes)
            // A failed attempt's reader is dropped: what it held unacknowledged goes
            // back at once, not when its leases run out.
            .set_shutdown_behavior(ShutdownBehavior::NackImmediately)
            .build();
        let stream = futures::stream::unfold(messages, |mut messages| async move {
            messages.next().await.map(|item| (item, messages))
        });
        self.stream = Some(stream.boxed());
        tracing::info!(subscription = %s.subscription, guarantee = %s.guarantee, "receiving");
        Ok(())
    }

    fn handle(&mut self, received: Received, out: &mut Vec<T>) -> Result<()> {
        let (message, handler) = received.map_err(|e| PubSubError::Receive {
            subscription: self.source.subscription.clone(),
            message: e.to_string(),
        })?;
        let id = message.message_id.clone();
        self.held.0 += 1;
        self.held.1 += message.data.len() as i64;
        if self.exactly_once() {
            let duplicate = self.restored.contains(&id) || self.unconfirmed.contains(&id);
            self.unconfirmed.insert(id.clone());
            self.since_snapshot.push(Unacked { id: id.clone(), bytes: message.data.len() as i64, handler });
            if duplicate {
                tracing::debug!(%id, "dropping a redelivered message already emitted");
                return Ok(());
            }
        } else {
            self.since_snapshot.push(Unacked { id: id.clone(), bytes: message.data.len() as i64, handler });
        }
        let publish_time_ms =
            message.publish_time.as_ref().map_or(0, |t| t.seconds() * 1000 + i64::from(t.nanos()) / 1_000_000);
        let received = ReceivedMessage {
            data: &message.data,
            attributes: &message.attributes,
            ordering_key: &message.ordering_key,
            message_id: &id,
            publish_time_ms,
        };
        let decoded = self.source.deserializer.deserialize(&received);
        let context = format_args!("subscription {} message {id}", self.source.subscription);
        let Some(record) = self.bad.settle(decoded, &message.data, context)? else { return Ok(()) };
        if self.source.end_of_stream.as_ref().is_some_and(|is_end| is_end(&record)) {
            tracing::info!(subscription = %self.source.subscription, %id, "end of stream");
            self.ended = true;
        } else {
            out.push(record);
        }
        Ok(())
    }

    /// Acknowledge `covered`; with exactly-once, wait for the confirmations and forget
    /// the ids confirmed.
    async fn acknowledge(&mut self, covered: Vec<Unacked>) {
        let mut confirming = Vec::new();
        for Unacked { id, bytes, handler } in covered {
            self.held.0 -= 1;
            self.held.1 -= bytes;
            match handler {
                Handler::ExactlyOnce(h) if self.exactly_once() => {
                    confirming.push(async move { (id, h.confirmed_ack().await) });
                }
                other => other.ack(),
            }
        }
        if confirming.is_empty() {
            return;
        }
        let confirmed = tokio::time::timeout(CONFIRM_TIMEOUT, futures::future::join_all(confirming)).await;
        let Ok(results) = confirmed else {
            tracing::warn!("confirmed acks did not answer within {CONFIRM_TIMEOUT:?}; their ids stay in the state");
            return;
        };
        for (id, result) in results {
            match result {
                Ok(()) => {
                    self.unconfirmed.remove(&id);
                    self.restored.remove(&id);
                }
                Err(e) => tracing::warn!(%id, error = %e, "ack not confirmed; a redelivery will be dropped"),
            }
        }
    }
}

impl<T: 'static> Drop for PubSubReader<T> {
    /// Leave the streaming pull for the next attempt (see `LEFT_BEHIND`); the handles
    /// held drop first and nack their messages.
    fn drop(&mut self) {
        self.since_snapshot.clear();
        self.by_checkpoint.clear();
        self.waiting = None;
        if let (Some(stream), Some(split)) = (self.stream.take(), self.splits.first()) {
            leave_behind((split.subscription.clone(), split.subtask), stream);
        }
    }
}

impl<T: Send + 'static> SourceReader for PubSubReader<T> {
    type Output = T;
    type Split = SubscriptionSplit;

    fn add_splits(&mut self, splits: Vec<SubscriptionSplit>) {
        for split in &splits {
            if !split.unconfirmed_ids.is_empty() {
                self.restored.extend(split.unconfirmed_ids.iter().cloned());
                self.restored_until = Some(Instant::now() + RESTORED_RETENTION);
            }
        }
        self.splits.extend(splits);
    }

    fn notify_no_more_splits(&mut self) {
        self.no_more_splits = true;
    }

    async fn poll_next(&mut self, out: &mut Vec<T>) -> Result<ReadStatus> {
        if self.ended {
            return Ok(ReadStatus::Finished);
        }
        if self.splits.is_empty() {
            return Ok(if self.no_more_splits { ReadStatus::Finished } else { ReadStatus::NeedSplits });
        }
        if self.stream.is_none() {
            self.start().await?;
        }
        let mut taken = 0;
        while taken < BATCH && !self.ended && !self.at_limit() {
            let next = match self.waiting.take() {
                Some(received) => Some(Some(received)),
                None => self.stream.as_mut().and_then(|s| s.next().now_or_never()),
            };
            match next {
                Some(Some(received)) => {
                    self.handle(received, out)?;
                    taken += 1;
                }
                Some(None) => {
                    return Err(PubSubError::Receive {
                        subscription: self.source.subscription.clone(),
                        message: "the message stream ended".into(),
                    }
                    .into());
                }
                None => break,
            }
        }
        if self.ended {
            // A message taken beyond the end is nacked; the stream stays until the
            // final checkpoint has acknowledged what was emitted.
            self.waiting = None;
            return Ok(ReadStatus::Finished);
        }
        self.report_unacked();
        Ok(if taken > 0 { ReadStatus::MoreAvailable } else { ReadStatus::NothingAvailable })
    }

    async fn wait_available(&mut self) {
        if self.waiting.is_some() || self.ended {
            return;
        }
        if self.at_limit() {
            // Until a checkpoint completes and its messages are acknowledged (the
            // task handles that while this waits).
            tokio::time::sleep(Duration::from_millis(20)).await;
            return;
        }
        let Some(stream) = self.stream.as_mut() else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            return;
        };
        if let Ok(Some(received)) = tokio::time::timeout(Duration::from_millis(100), stream.next()).await {
            self.waiting = Some(received);
        }
    }

    fn snapshot_state(&mut self, checkpoint_id: u64) -> Result<Vec<SubscriptionSplit>> {
        if !self.since_snapshot.is_empty() {
            self.by_checkpoint.insert(checkpoint_id, std::mem::take(&mut self.since_snapshot));
        }
        if self.restored_until.is_some_and(|until| Instant::now() > until) {
            self.restored.clear();
            self.restored_until = None;
        }
        let mut ids: Vec<String> = self.unconfirmed.iter().chain(&self.restored).cloned().collect();
        ids.sort();
        let mut splits = self.splits.clone();
        for (i, split) in splits.iter_mut().enumerate() {
            split.unconfirmed_ids = if i == 0 { std::mem::take(&mut ids) } else { Vec::new() };
        }
        Ok(splits)
    }

    async fn notify_checkpoint_complete(&mut self, checkpoint_id: u64) -> Result<()> {
        let newer = self.by_checkpoint.split_off(&(checkpoint_id + 1));
        let covered: Vec<Unacked> = std::mem::replace(&mut self.by_checkpoint, newer).into_values().flatten().collect();
        self.acknowledge(covered).await;
        self.report_unacked();
        if self.ended && self.since_snapshot.is_empty() && self.by_checkpoint.is_empty() {
            // Everything emitted is acknowledged: what the client still holds beyond
            // the end goes back to the subscription (acks after this would be lost).
            self.stream = None;
        }
        Ok(())
    }
}

//! Reads the splits of one subtask: each split has a task that owns its consumer
//! (an Exclusive subscription on the partition) and sends its messages to the reader,
//! which decodes them and advances the split's position as it emits them, so that a
//! snapshot covers exactly what was emitted. When a checkpoint completes, each
//! split's position in it is acknowledged cumulatively (retention and backlog stay
//! right). A restore subscribes again, seeks to the position where the broker allows
//! it, and skips every message at or before the position: a cursor behind it (an
//! acknowledgement lost in a crash) sends nothing twice.

use std::collections::BTreeMap;
use std::time::Duration;

use connector_base::schema::Decoder;
use connector_base::split_reader::FinishedSplits;
use futures::StreamExt;
use pulsar::consumer::InitialPosition;
use pulsar::{Consumer, ConsumerOptions, Pulsar, SubType, TokioExecutor};
use stream_core::Result;
use stream_core::api::{ReadStatus, SourceReader, TaskContext};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;

use super::split::{PulsarSplit, Stop};
use crate::client::Retries;
use crate::config::{PulsarSource, StartCursor};
use crate::error::PulsarError;
use crate::position::Position;

/// Messages buffered between the split tasks and the reader.
const QUEUE: usize = 4_096;
/// Messages emitted per poll (a bounded amount, so that checkpoints are not delayed).
const PER_POLL: usize = 1_000;
/// How long one attempt to subscribe may take (pulsar-lite does not answer a second
/// Exclusive consumer while the first one's connection lingers).
const SUBSCRIBE_ATTEMPT: Duration = Duration::from_secs(5);

/// What a split task tells the reader.
enum Event {
    Message {
        split: String,
        position: Position,
        payload: Vec<u8>,
    },
    /// A bounded split's end, found when it was first subscribed to.
    Stop {
        split: String,
        stop: Stop,
    },
    Finished {
        split: String,
    },
    Failed {
        split: String,
        reason: String,
    },
}

/// A position to acknowledge, and where to say it was.
type Ack = (Position, oneshot::Sender<()>);

/// How long a checkpoint's completion waits for its acknowledgements.
const ACK_TIMEOUT: Duration = Duration::from_secs(10);

/// How a split task is set up.
#[derive(Clone)]
struct Subscribing {
    client: Pulsar<TokioExecutor>,
    url: String,
    subscription: String,
    start: StartCursor,
    connect_timeout: Duration,
}

/// The reader of one subtask.
pub struct PulsarReader<T: 'static> {
    decoder: Decoder<T>,
    subscribing: Subscribing,
    positions: BTreeMap<String, PulsarSplit>,
    finished: FinishedSplits<PulsarSplit>,
    /// Each split task's acknowledgements, kept for finished splits too (their last
    /// position is acknowledged when a checkpoint holding it completes).
    acks: BTreeMap<String, mpsc::UnboundedSender<Ack>>,
    /// Positions of each checkpoint taken and not completed yet.
    to_ack: BTreeMap<u64, Vec<(String, Position)>>,
    events: mpsc::Receiver<Event>,
    sender: mpsc::Sender<Event>,
    waiting: Option<Event>,
    tasks: JoinSet<()>,
    no_more_splits: bool,
}

impl<T: Send + 'static> PulsarReader<T> {
    pub(crate) async fn new(source: &PulsarSource<T>, _ctx: &TaskContext) -> Result<Self> {
        let client = crate::client::connect(&source.url, source.connect_timeout, Retries::Ours).await?;
        let (sender, events) = mpsc::channel(QUEUE);
        Ok(PulsarReader {
            decoder: Decoder::new(SchemaRef(source.schema.clone()), source.bad_records.clone()),
            subscribing: Subscribing {
                client,
                url: source.url.clone(),
                subscription: source.subscription.clone(),
                start: source.start,
                connect_timeout: source.connect_timeout,
            },
            positions: BTreeMap::new(),
            finished: FinishedSplits::default(),
            acks: BTreeMap::new(),
            to_ack: BTreeMap::new(),
            events,
            sender,
            waiting: None,
            tasks: JoinSet::new(),
            no_more_splits: false,
        })
    }

    fn finish(&mut self, id: &str) {
        if let Some(split) = self.positions.remove(id) {
            self.finished.insert(split);
        }
    }
}

/// The source's schema, shared with the decoder.
struct SchemaRef<T>(std::sync::Arc<dyn connector_base::schema::DeserializationSchema<T>>);

impl<T: 'static> connector_base::schema::DeserializationSchema<T> for SchemaRef<T> {
    fn deserialize(&self, bytes: &[u8]) -> std::result::Result<T, connector_base::schema::SchemaError> {
        self.0.deserialize(bytes)
    }
}

/// Subscribe to `split`'s partition, attempts included within `connect_timeout`;
/// after a failed attempt the split gets a client of its own (the client does not
/// always replace a broken connection).
async fn subscribe(
    how: &mut Subscribing,
    split: &PulsarSplit,
) -> std::result::Result<Consumer<Vec<u8>, TokioExecutor>, String> {
    // A restored split reads from the earliest and skips what it emitted (the
    // subscription's cursor decides where the broker starts).
    let earliest = split.position.is_some() || how.start != StartCursor::Latest;
    let deadline = tokio::time::Instant::now() + how.connect_timeout;
    let mut last_error = String::new();
    while tokio::time::Instant::now() < deadline {
        let building = how
            .client
            .consumer()
            .with_topic(&split.topic)
            .with_subscription(&how.subscription)
            .with_subscription_type(SubType::Exclusive)
            .with_options(
                ConsumerOptions::default()
                    .with_initial_position(if earliest { InitialPosition::Earliest } else { InitialPosition::Latest })
                    .durable(true),
            )
            .build::<Vec<u8>>();
        match tokio::time::timeout(SUBSCRIBE_ATTEMPT, building).await {
            Ok(Ok(consumer)) => return Ok(consumer),
            Ok(Err(e)) => last_error = e.to_string(),
            Err(_) => last_error = format!("no answer within {SUBSCRIBE_ATTEMPT:?}"),
        }
        tracing::debug!(topic = %split.topic, error = %last_error, "subscribing failed; trying again");
        tokio::time::sleep(Duration::from_millis(200)).await;
        match crate::client::connect(&how.url, SUBSCRIBE_ATTEMPT, Retries::Ours).await {
            Ok(client) => how.client = client,
            Err(e) => last_error = e.to_string(),
        }
    }
    Err(format!("subscribing failed for {:?}: {last_error}", how.connect_timeout))
}

/// The last message of the partition when first subscribed: where a bounded read ends.
async fn resolve_stop(consumer: &mut Consumer<Vec<u8>, TokioExecutor>) -> std::result::Result<Stop, String> {
    let ids = consumer.get_last_message_id().await.map_err(|e| format!("last message id: {e}"))?;
    Ok(match ids.first() {
        // An empty partition has no last entry (-1 as an unsigned id).
        Some(id) if id.entry_id != u64::MAX && id.ledger_id != u64::MAX => Stop::At(Position::of(id)),
        _ => Stop::Empty,
    })
}

/// The task of one split: subscribe, seek to the position, send the messages after
/// it, acknowledge what the reader says.
async fn read_split(
    mut how: Subscribing,
    split: PulsarSplit,
    events: mpsc::Sender<Event>,
    mut acks: mpsc::UnboundedReceiver<Ack>,
) {
    let id = split.topic.clone();
    let failed = |reason: String| Event::Failed { split: id.clone(), reason };
    let mut consumer = match subscribe(&mut how, &split).await {
        Ok(consumer) => consumer,
        Err(reason) => {
            let _ = events.send(failed(reason)).await;
            return;
        }
    };
    if let Some(position) = split.position {
        // A broker that refuses a seek on a live consumer (pulsar-lite) reads from
        // the subscription's cursor, which is at or before the position.
        if let Err(e) = consumer.seek(None, Some(position.id()), None, how.client.clone()).await {
            tracing::debug!(topic = %id, error = %e, "seek refused; skipping up to the position instead");
        }
    }
    let mut stop = split.stop;
    if stop == Some(Stop::Latest) {
        match resolve_stop(&mut consumer).await {
            Ok(resolved) => {
                stop = Some(resolved);
                if events.send(Event::Stop { split: id.clone(), stop: resolved }).await.is_err() {
                    return;
                }
            }
            Err(reason) => {
                let _ = events.send(failed(reason)).await;
                return;
            }
        }
    }
    let mut last = split.position;
    // A new subscription at the latest message starts after the stop: nothing to read.
    if last.is_none() && how.start == StartCursor::Latest && matches!(stop, Some(Stop::At(_))) {
        stop = Some(Stop::Reached);
        if events.send(Event::Stop { split: id.clone(), stop: Stop::Reached }).await.is_err() {
            return;
        }
    }
    // Until the first message is emitted, messages before the start cursor are
    // skipped: published before its time, or before its message in its partition.
    let start = how.start;
    let before_start = |position: &Position, published: u64| match start {
        StartCursor::PublishTime(t) => published < t,
        StartCursor::MessageId(at) => at.partition == split.partition && at.is_after(position),
        StartCursor::Earliest | StartCursor::Latest => false,
    };
    let done = |last: Option<Position>| PulsarSplit { position: last, stop, ..split.clone() }.is_finished();
    if done(last) {
        finished(&events, &id, &mut consumer, &mut acks).await;
        return;
    }
    loop {
        tokio::select! {
            ack = acks.recv() => match ack {
                Some(ack) => acknowledge(&mut consumer, &id, ack).await,
                None => return,
            },
            message = consumer.next() => {
                let message = match message {
                    Some(Ok(message)) => message,
                    // A lost connection (a cut, a broker restart): subscribe again; the
                    // messages after `last` come again from the subscription's cursor.
                    lost => {
                        let why = match lost {
                            Some(Err(e)) => e.to_string(),
                            _ => "the consumer ended".to_string(),
                        };
                        tracing::warn!(topic = %id, error = %why, "reading failed; subscribing again");
                        let resumed = PulsarSplit { position: last, ..split.clone() };
                        // The old consumer may still hold the Exclusive subscription
                        // (its engine reconnects by itself): close it first.
                        let _ = tokio::time::timeout(SUBSCRIBE_ATTEMPT, consumer.close()).await;
                        match subscribe(&mut how, &resumed).await {
                            Ok(again) => consumer = again,
                            Err(reason) => {
                                let _ = events.send(failed(format!("{why}; then {reason}"))).await;
                                return;
                            }
                        }
                        continue;
                    }
                };
                let position = Position::of(message.message_id());
                if last.is_some_and(|l| !position.is_after(&l)) {
                    continue; // emitted before the restore
                }
                let published = message.metadata().publish_time;
                if last.is_none() && before_start(&position, published) {
                    continue;
                }
                if split.stop_time.is_some_and(|t| published >= t) {
                    // The stop cursor: this message and those after are not read.
                    let reached = Event::Stop { split: id.clone(), stop: Stop::Reached };
                    if events.send(reached).await.is_err() {
                        return;
                    }
                    finished(&events, &id, &mut consumer, &mut acks).await;
                    return;
                }
                last = Some(position);
                let event = Event::Message { split: id.clone(), position, payload: message.payload.data };
                if events.send(event).await.is_err() {
                    return;
                }
                if done(last) {
                    finished(&events, &id, &mut consumer, &mut acks).await;
                    return;
                }
            }
        }
    }
}

/// Tell the reader the split is finished, then stay to acknowledge its last position
/// once a checkpoint holds it (until the reader forgets the split).
async fn finished(
    events: &mpsc::Sender<Event>,
    id: &str,
    consumer: &mut Consumer<Vec<u8>, TokioExecutor>,
    acks: &mut mpsc::UnboundedReceiver<Ack>,
) {
    if events.send(Event::Finished { split: id.to_string() }).await.is_err() {
        return;
    }
    while let Some(ack) = acks.recv().await {
        acknowledge(consumer, id, ack).await;
    }
}

/// Acknowledge everything up to a checkpointed position (cumulatively) and say so.
async fn acknowledge(consumer: &mut Consumer<Vec<u8>, TokioExecutor>, topic: &str, (position, done): Ack) {
    tracing::debug!(%topic, ?position, "acknowledging cumulatively");
    if let Err(e) = consumer.cumulative_ack_with_id(topic, position.id()).await {
        tracing::warn!(%topic, error = %e, "acknowledging a checkpoint's position failed; the next checkpoint's covers it");
    }
    let _ = done.send(());
}

impl<T: Send + 'static> SourceReader for PulsarReader<T> {
    type Output = T;
    type Split = PulsarSplit;

    fn add_splits(&mut self, splits: Vec<PulsarSplit>) {
        for split in splits {
            let id = split.topic.clone();
            if split.is_finished() {
                self.finished.insert(split);
                continue;
            }
            let (ack_tx, ack_rx) = mpsc::unbounded_channel();
            self.acks.insert(id.clone(), ack_tx);
            self.positions.insert(id, split.clone());
            self.tasks.spawn(read_split(self.subscribing.clone(), split, self.sender.clone(), ack_rx));
        }
    }

    fn notify_no_more_splits(&mut self) {
        self.no_more_splits = true;
    }

    async fn poll_next(&mut self, out: &mut Vec<T>) -> Result<ReadStatus> {
        let mut any = false;
        for _ in 0..PER_POLL {
            let Some(event) = self.waiting.take().or_else(|| self.events.try_recv().ok()) else { break };
            any = true;
            match event {
                Event::Message { split, position, payload } => {
                    let Some(state) = self.positions.get_mut(&split) else { continue };
                    state.position = Some(position);
                    if let Some(record) = self.decoder.decode(&payload, format_args!("{split} at {position:?}"))? {
                        out.push(record);
                    }
                }
                Event::Stop { split, stop } => {
                    if let Some(state) = self.positions.get_mut(&split) {
                        state.stop = Some(stop);
                    }
                }
                Event::Finished { split } => self.finish(&split),
                Event::Failed { split, reason } => {
                    let subscription = self.subscribing.subscription.clone();
                    return Err(PulsarError::Read { topic: split, subscription, reason }.into());
                }
            }
        }
        Ok(if any {
            ReadStatus::MoreAvailable
        } else if self.positions.is_empty() {
            if self.no_more_splits { ReadStatus::Finished } else { ReadStatus::NeedSplits }
        } else {
            ReadStatus::NothingAvailable
        })
    }

    async fn wait_available(&mut self) {
        if self.waiting.is_none() {
            // recv is cancel-safe; what arrives is kept for the next poll.
            self.waiting = self.events.recv().await;
        }
    }

    fn take_finished_splits(&mut self) -> Vec<String> {
        self.finished.take_unreported()
    }

    fn snapshot_state(&mut self, checkpoint_id: u64) -> Result<Vec<PulsarSplit>> {
        let splits: Vec<PulsarSplit> =
            self.positions.values().cloned().chain(self.finished.snapshot(checkpoint_id).cloned()).collect();
        let positions: Vec<(String, Position)> =
            splits.iter().filter_map(|s| Some((s.topic.clone(), s.position?))).collect();
        self.to_ack.insert(checkpoint_id, positions);
        Ok(splits)
    }

    /// Acknowledge each split's position in the completed checkpoint (and in any
    /// earlier one not completed: the latest covers them), and forget finished splits
    /// a checkpoint snapshotted after their report.
    async fn notify_checkpoint_complete(&mut self, checkpoint_id: u64) -> Result<()> {
        let later = self.to_ack.split_off(&(checkpoint_id + 1));
        let done = std::mem::replace(&mut self.to_ack, later);
        let mut latest: BTreeMap<String, Position> = BTreeMap::new();
        for (split, position) in done.into_values().flatten() {
            latest.insert(split, position);
        }
        let mut answers = Vec::new();
        for (split, position) in latest {
            if let Some(acks) = self.acks.get(&split) {
                let (done, answer) = oneshot::channel();
                if acks.send((position, done)).is_ok() {
                    answers.push(answer);
                }
            }
        }
        if tokio::time::timeout(ACK_TIMEOUT, futures::future::join_all(answers)).await.is_err() {
            tracing::warn!(
                checkpoint_id,
                "acknowledging the checkpoint's positions took over {ACK_TIMEOUT:?}; the next checkpoint's cover them"
            );
        }
        self.finished.checkpoint_complete(checkpoint_id);
        let (positions, finished) = (&self.positions, &self.finished);
        self.acks.retain(|id, _| positions.contains_key(id) || finished.contains(id));
        Ok(())
    }
}

impl<T> Drop for PulsarReader<T> {
    fn drop(&mut self) {
        self.tasks.abort_all();
    }
}

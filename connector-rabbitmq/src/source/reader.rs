//! Consumes the queue, on one channel per consumer. At-most-once: the broker forgets
//! a message once sent (auto-ack). At-least-once: delivery tags of each channel are
//! grouped by the checkpoint taken after them and acknowledged (`basic.ack multiple`
//! up to the channel's highest tag in the checkpoint) when that checkpoint completes;
//! tags count per channel and a channel delivers in tag order, so that covers exactly
//! what was emitted. A restart closes the old connection, so the broker redelivers
//! everything unacknowledged. Exactly-once: as at-least-once, and the
//! correlation ids of messages emitted but not yet acknowledged are kept in state, so
//! that their redeliveries after a restore are dropped. The broker puts requeued
//! messages back at their place, ahead of newer ones, and marks them `redelivered`:
//! the first message that is not a redelivery shows that every requeued one has come,
//! and the restored ids are forgotten then. A new consumer waits until the connections
//! of earlier attempts in this process are closed (their messages requeued); a
//! connection closes when dropped, also one whose consumer was half set up. A lost
//! connection (a network cut) does not fail the task: the reader consumes again on
//! a new one, and treats what the old one delivered unacknowledged as a restore
//! does.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use connector_base::DeliveryGuarantee;
use connector_base::schema::BadRecords;
use futures::{FutureExt, StreamExt};
use lapin::message::Delivery;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, BasicQosOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use lapin::{Channel, Consumer};
use stream_core::Result;
use stream_core::api::{ReadStatus, SourceReader};

use super::split::QueueSplit;
use crate::config::{QueueDeclaration, RabbitMqSource};
use crate::connection::{OwnedConnection, SetUpAttempts, await_closing, connection_lost, within};
use crate::error::RabbitMqError;

/// Deliveries taken per `poll_next`.
const BATCH: usize = 500;

/// One consumer on a channel of its own: its own prefetch window and delivery tags.
struct Lane {
    channel: Channel,
    consumer: Consumer,
    /// Deliveries since the last snapshot (acknowledging modes): at half the prefetch
    /// window the reader asks for a checkpoint.
    delivered_since_snapshot: u32,
}

struct Consuming {
    /// Closed when dropped: the broker then requeues what was not acknowledged.
    connection: OwnedConnection,
    lanes: Vec<Lane>,
}

impl Consuming {
    /// Whether the connection or a channel is gone (cut, closed by the broker).
    fn lost(&self) -> bool {
        !self.connection.status().connected() || self.lanes.iter().any(|l| !l.channel.status().connected())
    }
}

/// The reader of one subtask.
pub struct RabbitMqReader<T: 'static> {
    source: RabbitMqSource<T>,
    bad: BadRecords,
    splits: Vec<QueueSplit>,
    /// No split will come (exactly-once on a replica other than 0).
    no_more_splits: bool,
    consuming: Option<Consuming>,
    /// A delivery taken while waiting, and the lane it came from.
    waiting: Option<(usize, Delivery)>,
    /// The lane polled first next time, so that every lane gets its turn.
    next_lane: usize,
    /// Per lane, the highest delivery tag since the last snapshot (acknowledging
    /// modes).
    tags_since_snapshot: Vec<Option<u64>>,
    /// Checkpoint -> per lane, the highest tag it covers.
    tags_by_checkpoint: BTreeMap<u64, Vec<Option<u64>>>,
    /// Exactly-once: ids emitted (or dropped as duplicates) by this attempt and not
    /// acknowledged, and which checkpoint took them.
    unacknowledged: HashSet<String>,
    ids_since_snapshot: Vec<String>,
    ids_by_checkpoint: BTreeMap<u64, Vec<String>>,
    /// Ids restored from the checkpoint and not seen again yet.
    restored: HashSet<String>,
}

impl<T: Send + 'static> RabbitMqReader<T> {
    pub(crate) fn new(source: &RabbitMqSource<T>) -> Self {
        RabbitMqReader {
            source: source.clone(),
            bad: BadRecords::new(source.bad_records.clone()),
            splits: Vec::new(),
            no_more_splits: false,
            consuming: None,
            waiting: None,
            next_lane: 0,
            tags_since_snapshot: Vec::new(),
            tags_by_checkpoint: BTreeMap::new(),
            unacknowledged: HashSet::new(),
            ids_since_snapshot: Vec::new(),
            ids_by_checkpoint: BTreeMap::new(),
            restored: HashSet::new(),
        }
    }

    fn acknowledging(&self) -> bool {
        self.source.guarantee != DeliveryGuarantee::AtMostOnce
    }

    /// Connect and consume; a connection lost while setting up (a cut right after
    /// connecting) is set up again, within `connect_timeout` in all.
    async fn start_consuming(&mut self, subtask: usize) -> Result<()> {
        await_closing().await;
        let attempts = SetUpAttempts::within(self.source.connect_timeout);
        loop {
            let connection = attempts.connect(&self.source.url).await?.consuming();
            match self.consume_on(&connection, subtask).await {
                Err(e) if attempts.again(&connection, &e).await => continue,
                made => {
                    let lanes = made?;
                    self.tags_since_snapshot = vec![None; lanes.len()];
                    self.consuming = Some(Consuming { connection, lanes });
                    return Ok(());
                }
            }
        }
    }

    /// Open `consumers` channels, each consuming the queue.
    async fn consume_on(&self, connection: &OwnedConnection, subtask: usize) -> Result<Vec<Lane>> {
        let mut lanes = Vec::with_capacity(self.source.consumers);
        for _ in 0..self.source.consumers {
            lanes.push(self.consume_on_channel(connection, subtask).await?);
        }
        Ok(lanes)
    }

    async fn consume_on_channel(&self, connection: &OwnedConnection, subtask: usize) -> Result<Lane> {
        let s = &self.source;
        let timeout = s.operation_timeout;
        let channel = within(timeout, "open channel", connection.create_channel()).await?;
        let options = match s.declaration {
            QueueDeclaration::MustExist => QueueDeclareOptions { passive: true, ..QueueDeclareOptions::default() },
            QueueDeclaration::Declare { durable, auto_delete } => {
                QueueDeclareOptions { durable, auto_delete, ..QueueDeclareOptions::default() }
            }
        };
        let declare = channel.queue_declare(s.queue.as_str().into(), options, FieldTable::default());
        let queue = within(timeout, &format!("declare queue `{}` (does the queue exist?)", s.queue), declare).await?;
        if s.guarantee == DeliveryGuarantee::ExactlyOnce {
            self.wait_until_only_consumer(&channel, queue.consumer_count()).await?;
        }
        if self.acknowledging() {
            within(timeout, "set prefetch (qos)", channel.basic_qos(s.prefetch, BasicQosOptions::default())).await?;
        }
        let options = BasicConsumeOptions { no_ack: !self.acknowledging(), ..BasicConsumeOptions::default() };
        // The broker names the consumer.
        let consume = channel.basic_consume(s.queue.as_str().into(), "".into(), options, FieldTable::default());
        let consumer = within(timeout, &format!("consume queue `{}`", s.queue), consume).await?;
        tracing::info!(queue = %s.queue, subtask, guarantee = %s.guarantee, channel = channel.id(), "consuming");
        Ok(Lane { channel, consumer, delivered_since_snapshot: 0 })
    }

    /// Exactly-once: wait until the queue has no consumer, so that the connection an
    /// earlier attempt or a cut left behind is closed on the broker and its messages
    /// requeued before this one consumes: requeued messages then come first, and the
    /// first one not redelivered proves they all came. (Consuming at once let a
    /// requeue land after that proof: one duplicate under network cuts in CI.)
    async fn wait_until_only_consumer(&self, channel: &Channel, mut consumers: u32) -> Result<()> {
        let s = &self.source;
        let (started, had_others) = (tokio::time::Instant::now(), consumers > 0);
        while consumers > 0 {
            if started.elapsed() >= s.connect_timeout {
                let waited = started.elapsed();
                return Err(RabbitMqError::OtherConsumers { queue: s.queue.clone(), consumers, waited }.into());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
            let options = QueueDeclareOptions { passive: true, ..QueueDeclareOptions::default() };
            let declare = channel.queue_declare(s.queue.as_str().into(), options, FieldTable::default());
            consumers = within(s.operation_timeout, "count the queue's consumers", declare).await?.consumer_count();
        }
        if had_others {
            tracing::info!(queue = %s.queue, waited = ?started.elapsed(), "the queue's other consumers are gone");
        }
        Ok(())
    }

    /// The connection was lost: drop it (the broker requeues every message it
    /// delivered and was not acknowledged) and consume again on a new one at the next
    /// poll, within `connect_timeout`, without failing the task. Delivery tags of the
    /// old channel mean nothing on the new one: no checkpoint acknowledges them. In
    /// exactly-once mode the ids emitted and not acknowledged are handled as after a
    /// restore, so that their redeliveries are dropped.
    fn connection_lost(&mut self, why: &dyn std::fmt::Display) {
        tracing::warn!(queue = %self.source.queue, error = %why, "rabbitmq connection lost; consuming again on a new one");
        self.consuming = None;
        self.waiting = None;
        self.tags_since_snapshot.clear();
        self.tags_by_checkpoint.clear();
        self.ids_since_snapshot.clear();
        self.ids_by_checkpoint.clear();
        self.restored.extend(self.unacknowledged.drain());
    }

    /// Acknowledge, on each lane, every delivery up to its tag in `highest`.
    /// basic.ack has no answer: a synchronous call on the same channel after it
    /// (qos-ok) proves the broker processed it. Until then the messages may be
    /// redelivered, so exactly-once keeps their ids in the state (a broker restart
    /// right after an ack that never arrived duplicated 85 messages in CI otherwise).
    async fn acknowledge(&self, consuming: &Consuming, highest: &[Option<u64>]) -> Result<()> {
        let prefetch = self.source.prefetch;
        for (lane, tag) in consuming.lanes.iter().zip(highest) {
            let Some(tag) = *tag else { continue };
            let channel = &lane.channel;
            let acked = async move {
                channel.basic_ack(tag, BasicAckOptions { multiple: true }).await?;
                channel.basic_qos(prefetch, BasicQosOptions::default()).await
            };
            within(self.source.operation_timeout, "acknowledge", acked).await?;
        }
        Ok(())
    }

    /// Emit (or drop, for a redelivered duplicate) one delivery of `lane`.
    fn handle(&mut self, lane: usize, delivery: Delivery, out: &mut Vec<T>) -> Result<()> {
        if self.acknowledging()
            && let Some(tag) = self.tags_since_snapshot.get_mut(lane)
        {
            *tag = Some(delivery.delivery_tag);
            if let Some(lane) = self.consuming.as_mut().and_then(|c| c.lanes.get_mut(lane)) {
                lane.delivered_since_snapshot += 1;
            }
        }
        let (queue, tag) = (&self.source.queue, delivery.delivery_tag);
        if self.source.guarantee == DeliveryGuarantee::ExactlyOnce {
            let id = delivery.properties.correlation_id().as_ref().map(|id| id.to_string());
            let Some(id) = id else {
                let settled: Option<T> = self.bad.settle(
                    Err("message without correlation_id".to_string()),
                    &delivery.data,
                    format_args!("queue {queue} message #{tag}"),
                )?;
                out.extend(settled);
                return Ok(());
            };
            if !delivery.redelivered {
                // Every requeued message came before this one.
                self.restored.clear();
            }
            let duplicate = self.restored.remove(&id) || self.unacknowledged.contains(&id);
            if self.unacknowledged.insert(id.clone()) {
                self.ids_since_snapshot.push(id.clone());
            }
            if duplicate {
                tracing::debug!(%id, "dropping a redelivered message already emitted");
                return Ok(());
            }
        }
        let decoded = self.source.schema.deserialize(&delivery.data);
        out.extend(self.bad.settle(decoded, &delivery.data, format_args!("queue {queue} message #{tag}"))?);
        Ok(())
    }
}

impl<T: Send + 'static> SourceReader for RabbitMqReader<T> {
    type Output = T;
    type Split = QueueSplit;

    fn add_splits(&mut self, splits: Vec<QueueSplit>) {
        for split in &splits {
            self.restored.extend(split.unacknowledged_ids.iter().cloned());
        }
        self.splits.extend(splits);
    }

    fn notify_no_more_splits(&mut self) {
        self.no_more_splits = true;
    }

    async fn poll_next(&mut self, out: &mut Vec<T>) -> Result<ReadStatus> {
        let Some(subtask) = self.splits.first().map(|s| s.subtask) else {
            return Ok(if self.no_more_splits { ReadStatus::Finished } else { ReadStatus::NeedSplits });
        };
        if self.consuming.is_none() {
            self.start_consuming(subtask).await?;
        }
        let lanes = self.consuming.as_ref().map_or(0, |c| c.lanes.len());
        let (mut taken, mut empty_in_a_row) = (0, 0);
        if let Some((lane, delivery)) = self.waiting.take() {
            self.handle(lane, delivery, out)?;
            taken += 1;
        }
        // Round robin over the lanes until each is empty once in a row.
        while taken < BATCH && empty_in_a_row < lanes {
            let lane = self.next_lane % lanes;
            self.next_lane = lane + 1;
            let next = match self.consuming.as_mut() {
                Some(c) => c.lanes[lane].consumer.next().now_or_never(),
                None => break,
            };
            match next {
                Some(Some(Ok(delivery))) => {
                    self.handle(lane, delivery, out)?;
                    taken += 1;
                    empty_in_a_row = 0;
                }
                Some(Some(Err(e))) if connection_lost(&e) || self.consuming.as_ref().is_some_and(Consuming::lost) => {
                    self.connection_lost(&e);
                    break;
                }
                Some(None) if self.consuming.as_ref().is_some_and(Consuming::lost) => {
                    self.connection_lost(&"the consumer ended with its connection");
                    break;
                }
                Some(Some(Err(e))) => return Err(RabbitMqError::client("consume", e)),
                Some(None) => {
                    return Err(RabbitMqError::channel(
                        "consume",
                        "the broker cancelled the consumer (the queue was deleted, or the broker is shutting down)",
                    ));
                }
                None => empty_in_a_row += 1,
            }
        }
        Ok(if taken > 0 { ReadStatus::MoreAvailable } else { ReadStatus::NothingAvailable })
    }

    async fn wait_available(&mut self) {
        if self.waiting.is_some() {
            return;
        }
        let Some(c) = self.consuming.as_mut() else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            return;
        };
        // Cancel-safe: an item not yet taken stays in its consumer's queue.
        let next = c.lanes.iter_mut().enumerate().map(|(i, lane)| lane.consumer.next().map(move |d| (i, d)));
        let first = futures::future::select_all(next);
        match tokio::time::timeout(Duration::from_millis(100), first).await {
            Ok(((lane, Some(Ok(delivery))), _, _)) => self.waiting = Some((lane, delivery)),
            Ok(((_, Some(Err(e))), _, _)) => tracing::warn!(error = %e, "consumer error"),
            Ok(((_, None), _, _)) | Err(_) => {}
        }
    }

    /// Half a lane's window taken since the last snapshot: a checkpoint now lets the
    /// broker send on before the window is full (it sends nothing more until a
    /// completed checkpoint acknowledges).
    fn wants_checkpoint(&self) -> bool {
        let half = u32::from(self.source.prefetch).div_ceil(2);
        let mut lanes = self.consuming.iter().flat_map(|c| &c.lanes);
        self.source.early_checkpoints && lanes.any(|l| l.delivered_since_snapshot >= half)
    }

    fn snapshot_state(&mut self, checkpoint_id: u64) -> Result<Vec<QueueSplit>> {
        for lane in self.consuming.iter_mut().flat_map(|c| &mut c.lanes) {
            lane.delivered_since_snapshot = 0;
        }
        if self.tags_since_snapshot.iter().any(Option::is_some) {
            let tags = self.tags_since_snapshot.iter_mut().map(Option::take).collect();
            self.tags_by_checkpoint.insert(checkpoint_id, tags);
        }
        if !self.ids_since_snapshot.is_empty() {
            self.ids_by_checkpoint.insert(checkpoint_id, std::mem::take(&mut self.ids_since_snapshot));
        }
        let mut ids: Vec<String> = self.unacknowledged.iter().chain(&self.restored).cloned().collect();
        ids.sort();
        let mut splits = self.splits.clone();
        for (i, split) in splits.iter_mut().enumerate() {
            split.unacknowledged_ids = if i == 0 { std::mem::take(&mut ids) } else { Vec::new() };
        }
        Ok(splits)
    }

    /// Acknowledge what the completed checkpoint covers; a failure is only logged
    /// (the messages are redelivered after a restart).
    async fn notify_checkpoint_complete(&mut self, checkpoint_id: u64) -> Result<()> {
        let newer = self.tags_by_checkpoint.split_off(&(checkpoint_id + 1));
        let covered = std::mem::replace(&mut self.tags_by_checkpoint, newer);
        let newer_ids = self.ids_by_checkpoint.split_off(&(checkpoint_id + 1));
        let covered_ids = std::mem::replace(&mut self.ids_by_checkpoint, newer_ids);
        // Per lane, the highest tag of the covered checkpoints.
        let mut highest: Vec<Option<u64>> = Vec::new();
        for tags in covered.into_values() {
            highest.resize(highest.len().max(tags.len()), None);
            for (high, tag) in highest.iter_mut().zip(tags) {
                *high = (*high).max(tag);
            }
        }
        let acknowledged = match self.consuming.as_ref() {
            _ if highest.iter().all(Option::is_none) => true,
            None => false,
            Some(c) => match self.acknowledge(c, &highest).await {
                Ok(()) => {
                    tracing::debug!(checkpoint_id, tags = ?highest, "acknowledged");
                    true
                }
                Err(e) => {
                    tracing::warn!(checkpoint_id, error = %e, "acknowledging failed; the messages will be redelivered");
                    // Lost, or no answer within operation_timeout (a silent network):
                    // consume again on a new connection, which must come within
                    // connect_timeout.
                    self.connection_lost(&e);
                    return Ok(());
                }
            },
        };
        if acknowledged {
            for id in covered_ids.into_values().flatten() {
                self.unacknowledged.remove(&id);
            }
        }
        Ok(())
    }
}

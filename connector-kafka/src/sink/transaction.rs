//! Transactional producers of the exactly-once sink, and the recovery of a
//! transaction whose checkpoint completed but whose commit may not have happened.
//!
//! librdkafka cannot resume another producer's transaction. So every pre-committed
//! transaction writes, inside itself, a *commit marker* (key = transactional id) to a
//! marker topic, and its committable keeps where its records and the marker landed
//! (offset runs; or the records themselves, with `records_in_checkpoint`). Committing
//! after a restart: a producer with the same transactional id is initialised, which
//! fences the dead one and settles its transaction (aborted, or committed if the commit
//! had reached the broker); then a `read_committed` read at the marker's offset tells
//! which: visible means committed, nothing to do; invisible means aborted, so the
//! records are read back from their offsets (an aborted transaction's records stay in
//! the log, hidden from `read_committed` readers; see `read_back.rs`), written again in
//! a fresh transaction with a new marker, and committed. Either way they appear exactly
//! once. The read scans forward from the first marker, so the marker of such a re-write
//! is found too and a second restart does not write the records a third time.
//!
//! Every transactional id has a marker partition of its own (`subtask * pool + slot`).
//! A `read_committed` reader stops at the last stable offset, in front of the first
//! transaction still open on the partition; with one partition shared by all ids,
//! another subtask's open transaction hid a committed marker, which was then taken for
//! aborted and its records written twice. With a partition per id, once the id is
//! fenced nothing can be open in front of its markers, so the read is conclusive. Kafka
//! aborts a fenced id's open transaction at once; recovery waits for the read to pass
//! its marker up to the transaction timeout (by then the broker has aborted any
//! transaction), then fails rather than guess, unless `hidden_marker_wait` (for test
//! brokers that never settle a fenced transaction) says to take it as aborted sooner.
//!
//! Transactional ids come from a fixed pool per subtask (`<prefix>-<subtask>-<slot>`,
//! slot = sequence number modulo the pool size), because librdkafka cannot list open
//! transactions nor tell a fresh id from a used one: a restart can only fence ids it
//! can name. Restoring fences the whole pool, so whatever any earlier process or
//! attempt left open is settled, however many of them restored the same checkpoint.
//! The pool size is kept in the writer state, so that a restart with a smaller pool or
//! a lower parallelism fences the ids of the earlier size (every old subtask's state
//! is restored into some new subtask, which fences its pool).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::Offset;
use rdkafka::TopicPartitionList;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, Producer};
use serde::{Deserialize, Serialize};
use stream_core::{Result, StreamError};

use super::commits_in_flight::CommitsInFlight;
use super::delivery::InFlight;
use super::read_back::read_back;
use super::record_log::RecordLog;
use super::recycled::Recycled;
use super::written::WrittenOffsets;
use crate::client::ClientProperties;
use crate::config::ExactlyOnceOptions;
use crate::error::KafkaError;
use crate::logging::Logged;
use crate::record::ProducerRecord;
use crate::topics::{TopicSpec, call_failed, ensure_partitions};

/// A pre-committed transaction: what the committer needs, also after a restart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KafkaCommittable {
    /// The transactional id of the producer that holds it.
    pub transactional_id: String,
    /// The checkpoint it belongs to.
    pub checkpoint_id: u64,
    /// The attempt of the job that wrote it: checkpoint ids start again at 1 in a
    /// new run of the job, so the marker names both.
    pub attempt: String,
    /// Where its commit marker landed (marker topic partition, offset).
    pub marker: (i32, i64),
    /// Where its records landed (read back and re-written if it turns out aborted).
    #[serde(default)]
    pub written: WrittenOffsets,
    /// Its records themselves, with `records_in_checkpoint` (else empty): re-written
    /// from here instead of read back.
    #[serde(default)]
    pub records: RecordLog,
}

/// Transactional producers shared by the writer (opens, pre-commits) and the
/// committer (commits) of one sink.
pub(crate) struct Transactions {
    pub client: ClientProperties,
    pub prefix: String,
    /// Transactional ids per subtask.
    pub pool: u64,
    pub timeout: Duration,
    /// The longest one transaction call waits for the brokers
    /// (`transaction_call_timeout`).
    pub call_timeout: Duration,
    pub marker_topic: String,
    /// Keep a transaction's records in its committable instead of reading them back.
    pub records_in_checkpoint: bool,
    /// How long recovery waits for a marker hidden behind an open transaction before
    /// taking it as aborted; `None`: up to the transaction timeout, then fail.
    hidden_marker_wait: Option<Duration>,
    /// Pre-committed transactions by id and checkpoint, not yet committed. A new attempt never uses
    /// an older attempt's producer: it recovers the transaction exactly as a new
    /// process would.
    parked: Mutex<HashMap<(String, u64), Parked>>,
    /// Notified whenever the committer takes a parked transaction.
    taken: tokio::sync::Notify,
    /// Calls on ids running on blocking threads (commits, producer initialisations),
    /// also those of attempts that have failed since.
    commits: Arc<CommitsInFlight>,
    /// Producers whose transaction committed, for their id's next transaction.
    recycled: Recycled,
}

struct Parked {
    attempt: String,
    subtask: usize,
    producer: Arc<FutureProducer<Logged>>,
}

/// A blocking transaction call's task that panicked or was cancelled.
fn transaction_task_failed(e: tokio::task::JoinError) -> StreamError {
    StreamError::join_failed("kafka transaction", e)
}

impl Transactions {
    pub fn new(client: ClientProperties, options: ExactlyOnceOptions) -> Self {
        Transactions {
            client,
            prefix: options.prefix,
            pool: options.pool_size,
            timeout: options.transaction_timeout,
            call_timeout: options.call_timeout,
            marker_topic: options.marker_topic,
            records_in_checkpoint: options.records_in_checkpoint,
            hidden_marker_wait: options.hidden_marker_wait,
            parked: Mutex::new(HashMap::new()),
            taken: tokio::sync::Notify::new(),
            commits: Arc::default(),
            recycled: Recycled::default(),
        }
    }

    fn call_failed(&self, operation: &'static str, e: rdkafka::error::KafkaError) -> StreamError {
        call_failed(operation, self.call_timeout, e)
    }

    /// The transactional id of `subtask`'s `seq`th transaction: its slot in the pool.
    pub fn id(&self, subtask: usize, seq: u64) -> String {
        self.id_in_pool(subtask, seq, self.pool)
    }

    /// The transactional id of `subtask`'s `seq`th transaction in a pool of `pool` ids
    /// (an earlier run's size, when it differed).
    pub fn id_in_pool(&self, subtask: usize, seq: u64, pool: u64) -> String {
        format!("{}-{subtask}-{}", self.prefix, seq % pool.max(1))
    }

    /// A producer with `id`, initialised: any earlier producer with the same id is
    /// fenced and its open transaction settled.
    pub async fn producer(self: &Arc<Self>, id: &str) -> Result<Arc<FutureProducer<Logged>>> {
        self.init_in_background(id.to_string()).await.map_err(transaction_task_failed)?
    }

    /// The producer of `id`, initialised on a blocking thread that starts at once (a
    /// task spawned from the pipeline's worker waited in its queue until the pipeline
    /// blocked at the next barrier, and the pre-commit then waited for
    /// `init_transactions`). Until it returns, a `begin`, fencing or recovery of `id`
    /// waits: a failed attempt's call must not fence the id once a new attempt uses it.
    pub fn init_in_background(
        self: &Arc<Self>,
        id: String,
    ) -> tokio::task::JoinHandle<Result<Arc<FutureProducer<Logged>>>> {
        let (txns, running) = (self.clone(), self.commits.start(&id));
        tokio::task::spawn_blocking(move || {
            let producer = txns.init_producer(&id);
            drop(running);
            producer
        })
    }

    /// The producer for `attempt`'s next transaction on `id`: the one that committed
    /// `id`'s last transaction of this attempt if it is idle, else a new one
    /// initialised in the background.
    pub fn spare(self: &Arc<Self>, id: String, attempt: &str) -> Spare {
        match self.recycled.take(&id, attempt) {
            Some(producer) => {
                tracing::debug!(id, "transactional producer recycled");
                Spare::Ready(producer)
            }
            None => Spare::Initialising(self.init_in_background(id)),
        }
    }

    /// [`Self::producer`] on the calling thread: it blocks for a broker round trip or
    /// more.
    fn init_producer(&self, id: &str) -> Result<Arc<FutureProducer<Logged>>> {
        let timeout_ms = self.timeout.as_millis().to_string();
        let producer: Arc<FutureProducer<Logged>> = Arc::new(
            self.client
                .config(&[
                    ("transactional.id", id),
                    ("transaction.timeout.ms", &timeout_ms),
                    ("enable.idempotence", "true"),
                    ("acks", "all"),
                ])
                .create_with_context(Logged::default())
                .map_err(|e| KafkaError::client("create transactional producer", e))?,
        );
        // librdkafka looks for the transaction coordinator as soon as it can; with no
        // broker connection up yet it tries again only 500 ms later. A metadata request
        // first waits for the connection (one round trip); about half of all
        // initialisations still take ~505 ms (18 of 38 measured), the others ~50 ms.
        // Asking marker partition 0's leader for offsets instead made all of them take
        // 5-9 ms, but the Kafka -> Kafka kill test's killed runs then committed nothing
        // in 4 of 5 runs (3 of 3 fine without it), for a reason not found; not done.
        let started = Instant::now();
        producer
            .client()
            .fetch_metadata(Some(&self.marker_topic), self.call_timeout)
            .map_err(|e| self.call_failed("connect transactional producer", e))?;
        let connected = started.elapsed();
        // From here on, earlier producers of `id` may be fenced: none is reused.
        self.recycled.initialised(id, &producer);
        producer.init_transactions(self.call_timeout).map_err(|e| self.call_failed("init transactions", e))?;
        tracing::debug!(
            id,
            connect_ms = connected.as_millis() as u64,
            init_ms = (started.elapsed() - connected).as_millis() as u64,
            "transactional producer initialised"
        );
        Ok(producer)
    }

    /// A producer with `id` inside a new transaction, once no commit of `id` by an
    /// earlier attempt is running.
    pub async fn begin(self: &Arc<Self>, id: &str) -> Result<Arc<FutureProducer<Logged>>> {
        self.commits.settled(id).await;
        let producer = self.producer(id).await?;
        producer.begin_transaction().map_err(|e| KafkaError::client("begin transaction", e))?;
        Ok(producer)
    }

    /// Keep a pre-committed transaction's producer for the committer of `attempt`;
    /// how many of `subtask`'s transactions now wait for their commit.
    pub fn park(
        &self,
        id: String,
        checkpoint_id: u64,
        attempt: &str,
        subtask: usize,
        producer: Arc<FutureProducer<Logged>>,
    ) -> usize {
        let mut parked = self.parked.lock().unwrap_or_else(|p| p.into_inner());
        parked.retain(|_, p| p.attempt == attempt);
        parked.insert((id, checkpoint_id), Parked { attempt: attempt.to_string(), subtask, producer });
        parked.values().filter(|p| p.subtask == subtask).count()
    }

    fn take(&self, committable: &KafkaCommittable, attempt: &str) -> Option<Arc<FutureProducer<Logged>>> {
        let mut parked = self.parked.lock().unwrap_or_else(|p| p.into_inner());
        parked.retain(|_, p| p.attempt == attempt);
        let taken =
            parked.remove(&(committable.transactional_id.clone(), committable.checkpoint_id)).map(|p| p.producer);
        self.taken.notify_waiters();
        taken
    }

    /// Wait until at most `most` of `subtask`'s transactions wait for their commit, for
    /// up to `limit`: the committer may be behind (recovering a restored transaction
    /// takes a while) while checkpoints keep completing. `Err` with the number still
    /// waiting after `limit` (checkpoints keep failing, so nothing is committed).
    pub async fn wait_for_commits(
        &self,
        attempt: &str,
        subtask: usize,
        most: usize,
        limit: Duration,
    ) -> std::result::Result<(), usize> {
        let deadline = tokio::time::Instant::now() + limit;
        let mut warned = false;
        loop {
            let taken = self.taken.notified();
            tokio::pin!(taken);
            taken.as_mut().enable();
            let waiting = {
                let parked = self.parked.lock().unwrap_or_else(|p| p.into_inner());
                parked.values().filter(|p| p.attempt == attempt && p.subtask == subtask).count()
            };
            if waiting <= most {
                return Ok(());
            }
            if !warned {
                tracing::warn!(
                    subtask,
                    waiting,
                    "the committer is behind; the writer waits for a free transactional id"
                );
                warned = true;
            }
            if tokio::time::timeout_at(deadline, taken).await.is_err() {
                return Err(waiting);
            }
        }
    }

    /// Fence `id` and abort whatever it left open (a transaction of a dead attempt
    /// would hold back `read_committed` readers until it times out). The producer that
    /// fenced it is kept for a later transaction of `keep_for` (an attempt).
    pub async fn abort_lingering(self: &Arc<Self>, id: &str, keep_for: Option<&str>) -> Result<()> {
        self.commits.settled(id).await;
        let producer = self.producer(id).await?;
        if let Some(attempt) = keep_for {
            self.recycled.keep(id, attempt, producer);
        }
        Ok(())
    }

    /// The marker value of a transaction for `checkpoint_id` written by `attempt`.
    fn marker_value(checkpoint_id: u64, attempt: &str) -> String {
        format!("{checkpoint_id}@{attempt}")
    }

    /// The marker partition of `subtask`'s `seq`th transaction: one per transactional
    /// id, so that no other transaction can be open in front of a marker once its own
    /// id is fenced (see `marker_visible`).
    pub fn marker_partition(&self, subtask: usize, seq: u64) -> i32 {
        i32::try_from(subtask as u64 * self.pool + seq % self.pool).unwrap_or(i32::MAX)
    }

    /// The marker record of transaction `id` for `checkpoint_id`, written by `attempt`
    /// to `partition` of the marker topic.
    pub fn marker(&self, id: &str, partition: i32, checkpoint_id: u64, attempt: &str) -> ProducerRecord {
        ProducerRecord {
            topic: self.marker_topic.clone(),
            partition: Some(partition),
            key: Some(id.as_bytes().to_vec()),
            value: Some(Self::marker_value(checkpoint_id, attempt).into_bytes()),
            ..Default::default()
        }
    }

    /// Create the marker topic if it is missing, or add partitions to it, so that it
    /// has one partition per transactional id of `parallelism` subtasks.
    pub async fn ensure_marker_topic(&self, parallelism: usize) -> Result<()> {
        let topic = TopicSpec {
            name: &self.marker_topic,
            partitions: self.marker_partition(parallelism.max(1) - 1, self.pool - 1) as usize + 1,
            configs: &[("retention.ms", "86400000"), ("segment.ms", "3600000")],
            why: "one per transactional id",
        };
        ensure_partitions(&self.client, topic, self.call_timeout).await
    }

    /// Commit `committable`: directly when this process pre-committed it, else by
    /// recovery (see the module docs). Idempotent.
    pub async fn commit(self: &Arc<Self>, committable: &KafkaCommittable, attempt: &str) -> Result<()> {
        if let Some(producer) = self.take(committable, attempt) {
            let running = self.commits.start(&committable.transactional_id);
            let call_timeout = self.call_timeout;
            let (committed, producer) = tokio::task::spawn_blocking(move || {
                let committed = producer.commit_transaction(call_timeout);
                drop(running);
                (committed, producer)
            })
            .await
            .map_err(transaction_task_failed)?;
            match committed {
                Ok(()) => {
                    self.recycled.keep(&committable.transactional_id, attempt, producer);
                    return Ok(());
                }
                Err(e) => {
                    tracing::warn!(id = %committable.transactional_id, error = %e, "commit failed; recovering the transaction")
                }
            }
        }
        self.recover(committable).await
    }

    async fn recover(self: &Arc<Self>, committable: &KafkaCommittable) -> Result<()> {
        let id = committable.transactional_id.as_str();
        self.commits.settled(id).await;
        let producer = self.producer(id).await?;
        if self.marker_visible(id, committable).await? {
            tracing::info!(id, checkpoint = committable.checkpoint_id, "transaction was committed before the restart");
            return Ok(());
        }
        let kept = !committable.records.is_empty();
        tracing::warn!(
            id,
            checkpoint = committable.checkpoint_id,
            records = if kept { committable.records.len() as u64 } else { committable.written.len() },
            from = if kept { "checkpoint" } else { "log" },
            "transaction of a completed checkpoint was not committed; writing its records again"
        );
        producer.begin_transaction().map_err(|e| KafkaError::client("begin transaction", e))?;
        let mut in_flight = InFlight::transactional(self.call_timeout, false);
        let corrupt = |e: String| {
            KafkaError::failed("recover transaction", format!("the checkpoint holds corrupt records of {id}: {e}"))
        };
        if kept {
            for record in committable.records.records() {
                in_flight.send(&producer, &record.map_err(corrupt)?).await?;
            }
        } else {
            let (client, owned_id, written) = (self.client.clone(), id.to_string(), committable.written.clone());
            let records = tokio::task::spawn_blocking(move || read_back(&client, &owned_id, &written))
                .await
                .map_err(transaction_task_failed)??;
            for record in &records {
                in_flight.send(&producer, record).await?;
            }
        }
        in_flight
            .send(&producer, &self.marker(id, committable.marker.0, committable.checkpoint_id, &committable.attempt))
            .await?;
        in_flight.wait_all().await?;
        let call_timeout = self.call_timeout;
        tokio::task::spawn_blocking(move || producer.commit_transaction(call_timeout))
            .await
            .map_err(transaction_task_failed)?
            .map_err(|e| self.call_failed("commit transaction", e))
    }

    /// Whether a marker of transaction `id` for `checkpoint_id` is visible to a
    /// `read_committed` reader at or after `(partition, offset)` (the first marker, or
    /// the one of an earlier recovery). The transaction must be settled: call after
    /// fencing.
    async fn marker_visible(&self, id: &str, committable: &KafkaCommittable) -> Result<bool> {
        let (checkpoint_id, (partition, offset)) = (committable.checkpoint_id, committable.marker);
        let group = format!("{}-marker-check", self.prefix);
        let consumer: BaseConsumer<Logged> = self
            .client
            .config(&[
                ("group.id", &group),
                ("enable.auto.commit", "false"),
                ("isolation.level", "read_committed"),
                ("enable.partition.eof", "true"),
            ])
            .create_with_context(Logged::default())
            .map_err(|e| KafkaError::client("create marker reader", e))?;
        let (topic, id, call_timeout) = (self.marker_topic.clone(), id.to_string(), self.call_timeout);
        let value = Self::marker_value(checkpoint_id, &committable.attempt);
        // By then the broker has aborted any transaction (see `hidden_marker_wait`).
        let hidden_wait = self.hidden_marker_wait.unwrap_or(self.timeout + call_timeout);
        let assume_aborted = self.hidden_marker_wait.is_some();
        tokio::task::spawn_blocking(move || -> Result<bool> {
            // The end this client is given (a read_committed one: the last stable offset).
            let (_, high) = consumer
                .fetch_watermarks(&topic, partition, call_timeout)
                .map_err(|e| call_failed("read marker", call_timeout, e))?;
            // From the partition's start, not from the marker: a read_committed fetch
            // that starts after an aborted transaction of the same producer id (ids are
            // reused across attempts) was seen to hide committed records on noida-db.
            // The topic keeps markers for a day, so this reads at most a day of them.
            let mut list = TopicPartitionList::new();
            list.add_partition_offset(&topic, partition, Offset::Beginning)
                .map_err(|e| KafkaError::client("read marker", e))?;
            consumer.assign(&list).map_err(|e| KafkaError::client("read marker", e))?;
            let started = Instant::now();
            // Since when the read has stood at the end, behind our marker.
            let mut hidden_since: Option<Instant> = None;
            loop {
                if hidden_since.is_none() && started.elapsed() >= call_timeout {
                    return Err(KafkaError::CallTimedOut {
                        operation: "read marker",
                        timeout: call_timeout,
                        message: "the marker partition's end was not reached".into(),
                    }
                    .into());
                }
                match consumer.poll(Duration::from_millis(100)) {
                    Some(Ok(m)) if m.key() == Some(id.as_bytes()) && m.payload() == Some(value.as_bytes()) => {
                        tracing::debug!(%id, checkpoint_id, marker = m.offset(), "commit marker found");
                        return Ok(true);
                    }
                    Some(Ok(_)) => hidden_since = None,
                    Some(Err(rdkafka::error::KafkaError::PartitionEOF(_))) => {
                        // A read_committed reader ends at the last stable offset. The
                        // partition is this id's own and the id is fenced, so nothing should
                        // be open in front of our marker; if the position has not passed it
                        // yet, wait for the broker to settle the fenced transaction (at
                        // most `hidden_wait`: a broker that never does must not stall
                        // recovery for ever).
                        let position = consumer.position().map_err(|e| KafkaError::client("read marker", e))?;
                        let at = position.find_partition(&topic, partition).and_then(|e| e.offset().to_raw());
                        tracing::debug!(%id, checkpoint_id, partition, marker = offset, ?at, high, "end of marker partition");
                        // Nothing read yet (the position is still a logical offset, below
                        // 0) is behind the marker too: an open transaction at the start of
                        // the partition hides everything (seen in CI after a broker restart).
                        if at.is_some_and(|at| at > offset) {
                            return Ok(false);
                        }
                        hidden_since.get_or_insert_with(Instant::now);
                    }
                    Some(Err(e)) => return Err(KafkaError::client("read marker", e)),
                    // The end is reported once: with nothing new on the partition, the
                    // wait goes on here.
                    None => {}
                }
                if hidden_since.is_some_and(|t| t.elapsed() >= hidden_wait) {
                    if !assume_aborted {
                        return Err(KafkaError::failed(
                            "read marker",
                            format!(
                                "the commit marker of {id} (checkpoint {checkpoint_id}) is still behind an open \
                                 transaction {hidden_wait:?} after the id was fenced: the broker does not settle \
                                 fenced transactions (a test broker known to leave them open needs \
                                 `hidden_marker_wait`)"
                            ),
                        ));
                    }
                    tracing::warn!(
                        %id, checkpoint_id, marker = offset, ?hidden_wait,
                        "the marker is still behind an open transaction; taking it as aborted as \
                         `hidden_marker_wait` says (if it was committed, its records are written twice)"
                    );
                    return Ok(false);
                }
            }
        })
        .await
        .map_err(transaction_task_failed)?
    }
}

/// The producer of a writer's next transaction.
pub(crate) enum Spare {
    /// Recycled: ready at once.
    Ready(Arc<FutureProducer<Logged>>),
    /// Being created and initialised on a blocking thread.
    Initialising(tokio::task::JoinHandle<Result<Arc<FutureProducer<Logged>>>>),
}

impl Spare {
    /// The producer, once initialised.
    pub async fn ready(self) -> Result<Arc<FutureProducer<Logged>>> {
        match self {
            Spare::Ready(producer) => Ok(producer),
            Spare::Initialising(handle) => handle.await.map_err(transaction_task_failed)?,
        }
    }

    /// Stop an initialisation that has not started its calls (one already running is
    /// waited for by the next user of the id; see `commits_in_flight`).
    pub fn abort(&self) {
        if let Spare::Initialising(handle) = self {
            handle.abort();
        }
    }
}

//! Writes records: plainly (none / at-least-once: every delivery confirmed at the
//! checkpoint) or inside one transaction per checkpoint (exactly-once).

use std::sync::Arc;

use connector_base::DeliveryGuarantee;
use rdkafka::producer::{FutureProducer, Producer};
use serde::{Deserialize, Serialize};
use stream_core::api::{SinkWriter, TaskContext};
use stream_core::metrics::SinkMetrics;
use stream_core::{Result, StreamError};

use super::KafkaSink;
use super::delivery::InFlight;
use super::record_log::RecordLog;
use super::transaction::{KafkaCommittable, Spare, Transactions};
use crate::error::KafkaError;
use crate::logging::Logged;
use crate::record::KafkaSerializer;
use crate::topics::{TopicSpec, ensure_partitions};

/// How long a pre-commit waits for a committer that is behind before the writer fails.
const COMMITTER_BEHIND_LIMIT: std::time::Duration = std::time::Duration::from_secs(30);

/// Checkpointed state of an exactly-once writer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KafkaWriterState {
    /// The subtask that wrote it.
    pub subtask: usize,
    /// The sequence number of its open transaction.
    pub next_seq: u64,
    /// The size of its pool of transactional ids (0 in states of versions that did not
    /// keep it: the current size is taken).
    #[serde(default)]
    pub pool: u64,
}

struct Open {
    seq: u64,
    id: String,
    records: RecordLog,
    /// The producer of the next transaction (recycled, or initialised in the
    /// background so that a pre-commit does not wait for `init_transactions`).
    spare: Option<Spare>,
    /// Fencing the ids earlier runs may have left open (first transaction only): it
    /// runs while the first transaction writes and must be done before the first
    /// pre-commit starts the spare of a fenced id.
    fencing: Option<tokio::task::JoinHandle<Result<()>>>,
}

impl Drop for Open {
    /// A dead attempt's spare or fencing must not fence an id once a new attempt uses
    /// it (calls already running are waited for; see `commits_in_flight`).
    fn drop(&mut self) {
        if let Some(spare) = self.spare.take() {
            spare.abort();
        }
        if let Some(fencing) = self.fencing.take() {
            fencing.abort();
        }
    }
}

/// The writer of one subtask.
pub struct KafkaWriter<T: 'static> {
    serializer: Arc<dyn KafkaSerializer<T>>,
    producer: Arc<FutureProducer<Logged>>,
    in_flight: InFlight,
    subtask: usize,
    attempt: String,
    transactions: Option<(Arc<Transactions>, Open)>,
    metrics: SinkMetrics,
}

impl<T: Send + 'static> KafkaWriter<T> {
    pub(crate) async fn new(sink: &KafkaSink<T>, ctx: &TaskContext, restored: Vec<KafkaWriterState>) -> Result<Self> {
        let serializer = sink.serializer.clone();
        if let Some((name, partitions)) = &sink.own_topic {
            let topic =
                TopicSpec { name, partitions: *partitions, configs: &[], why: "the repartition's partition count" };
            ensure_partitions(&sink.client, topic, sink.call_timeout).await?;
        }
        // The builder sets `transactions` exactly for exactly-once.
        let Some(txns) = sink.transactions_for(ctx)? else {
            let acks = if sink.guarantee == DeliveryGuarantee::AtLeastOnce { "all" } else { "1" };
            let idempotence = if sink.guarantee == DeliveryGuarantee::AtLeastOnce { "true" } else { "false" };
            let producer: FutureProducer<Logged> = sink
                .client
                .config(&[("acks", acks), ("enable.idempotence", idempotence)])
                .create_with_context(Logged::default())
                .map_err(|e| KafkaError::client("create producer", e))?;
            return Ok(KafkaWriter {
                serializer,
                producer: Arc::new(producer),
                in_flight: InFlight::default(),
                subtask: ctx.subtask,
                attempt: ctx.attempt_id.clone(),
                transactions: None,
                metrics: ctx.sink_metrics(),
            });
        };
        txns.ensure_marker_topic(ctx.parallelism).await?;
        let own = restored.iter().filter(|s| s.subtask == ctx.subtask).map(|s| s.next_seq).max();
        // Fence every transactional id earlier processes or attempts may have left a
        // transaction open on: the whole pool of each restored subtask, in the size it
        // had (every old subtask's state is restored somewhere, also after the
        // parallelism or the pool shrank), and of ours, except the id of each restored
        // committable (sequence `next_seq - 1`), which the committer recovers, and the
        // ids of our first transaction and its spare, which initialising them fences.
        // An open transaction left behind only holds back `read_committed` readers, so
        // fencing (one broker round trip per id, all at once) runs in the background
        // while the first transaction begins and writes; the first pre-commit waits for
        // it.
        let pool_of = |s: &KafkaWriterState| if s.pool == 0 { txns.pool } else { s.pool };
        let committables: Vec<String> = restored
            .iter()
            .filter_map(|s| s.next_seq.checked_sub(1).map(|seq| txns.id_in_pool(s.subtask, seq, pool_of(s))))
            .collect();
        let mut fence: Vec<String> = restored
            .iter()
            .flat_map(|s| (0..pool_of(s)).map(|slot| txns.id_in_pool(s.subtask, slot, pool_of(s))))
            .collect();
        let ours: Vec<String> = (0..txns.pool).map(|seq| txns.id(ctx.subtask, seq)).collect();
        fence.extend(ours.iter().cloned());
        // With another pool size our next ids may fall on a restored committable's,
        // which the committer must recover first: skip ahead (a pool holds 4 ids or
        // more, so two steps at most).
        let mut seq = own.unwrap_or(0);
        while committables.contains(&txns.id(ctx.subtask, seq)) || committables.contains(&txns.id(ctx.subtask, seq + 1))
        {
            seq += 1;
        }
        let (id, spare_id) = (txns.id(ctx.subtask, seq), txns.id(ctx.subtask, seq + 1));
        fence.sort();
        fence.dedup();
        fence.retain(|other| *other != id && *other != spare_id && !committables.contains(other));
        let fencing = {
            // The producers that fence our own ids serve their later transactions.
            let (txns, attempt) = (txns.clone(), ctx.attempt_id.clone());
            tokio::spawn(async move {
                let started = std::time::Instant::now();
                let keep_for = |id: &String| ours.contains(id).then_some(attempt.as_str());
                let fenced = fence.iter().map(|id| txns.abort_lingering(id, keep_for(id)));
                futures::future::try_join_all(fenced).await?;
                tracing::debug!(
                    fenced = fence.len(),
                    ms = started.elapsed().as_millis() as u64,
                    "lingering transactions fenced"
                );
                Ok(())
            })
        };
        let started = std::time::Instant::now();
        let producer = txns.begin(&id).await?;
        tracing::debug!(%id, ready_ms = started.elapsed().as_millis() as u64, "exactly-once writer ready");
        let next = txns.spare(spare_id, &ctx.attempt_id);
        Ok(KafkaWriter {
            serializer,
            producer,
            in_flight: InFlight::transactional(txns.call_timeout, true),
            subtask: ctx.subtask,
            attempt: ctx.attempt_id.clone(),
            transactions: Some((
                txns,
                Open { seq, id, records: RecordLog::default(), spare: Some(next), fencing: Some(fencing) },
            )),
            metrics: ctx.sink_metrics(),
        })
    }
}

impl<T: Send + 'static> SinkWriter<T> for KafkaWriter<T> {
    type Committable = KafkaCommittable;
    type State = KafkaWriterState;

    async fn write(&mut self, record: T) -> Result<()> {
        self.write_batch(&mut vec![record]).await
    }

    async fn write_batch(&mut self, records: &mut Vec<T>) -> Result<()> {
        let mut bytes = 0;
        for record in records.drain(..) {
            let out = self.serializer.serialize(&record).map_err(connector_base::BaseError::unencodable)?;
            bytes += out.key.as_ref().map_or(0, Vec::len) + out.value.as_ref().map_or(0, Vec::len);
            self.in_flight.send(&self.producer, &out).await?;
            if let Some((txns, open)) = self.transactions.as_mut()
                && txns.records_in_checkpoint
            {
                open.records.push(&out);
            }
        }
        self.metrics.bytes_out(bytes as u64);
        Ok(())
    }

    /// Wait for every delivery report; an error fails the checkpoint. The wait is
    /// the send-time metric.
    async fn flush(&mut self, _end_of_input: bool) -> Result<()> {
        let started = std::time::Instant::now();
        self.in_flight.wait_all().await?;
        self.metrics.send_time(started.elapsed());
        Ok(())
    }

    /// Exactly-once: write the commit marker into the transaction, hand it to the
    /// committer, and open the next transaction.
    async fn prepare_commit(&mut self, checkpoint_id: u64) -> Result<Vec<KafkaCommittable>> {
        let Some((txns, open)) = self.transactions.as_mut() else { return Ok(Vec::new()) };
        let txns = txns.clone();
        let started = std::time::Instant::now();
        if let Some(fencing) = open.fencing.take() {
            fencing.await.map_err(|e| StreamError::join_failed("kafka fencing", e))??;
        }
        self.in_flight.wait_all().await?;
        let written = self.in_flight.take_written();
        let delivered = started.elapsed();
        self.metrics.send_time(delivered);
        let partition = txns.marker_partition(self.subtask, open.seq);
        let marker = self
            .in_flight
            .send_and_wait(&self.producer, &txns.marker(&open.id, partition, checkpoint_id, &self.attempt))
            .await?;
        let marked = started.elapsed();
        tracing::debug!(
            id = %open.id, checkpoint_id, marker = marker.offset, records = written.len(),
            delivered_ms = delivered.as_millis() as u64, marked_ms = marked.as_millis() as u64, "pre-committing"
        );
        let committable = KafkaCommittable {
            transactional_id: open.id.clone(),
            checkpoint_id,
            attempt: self.attempt.clone(),
            marker: (marker.partition, marker.offset),
            written,
            records: std::mem::take(&mut open.records),
        };
        let next_seq = open.seq + 1;
        let next_id = txns.id(self.subtask, next_seq);
        let next = match open.spare.take() {
            Some(spare) => spare.ready().await?,
            None => txns.producer(&next_id).await?,
        };
        next.begin_transaction().map_err(|e| KafkaError::client("begin transaction", e))?;
        let pending = txns.park(
            open.id.clone(),
            checkpoint_id,
            &self.attempt,
            self.subtask,
            std::mem::replace(&mut self.producer, next),
        );
        // The next spare takes the slot `pool - 2` ids after the oldest transaction that
        // may still wait for its commit (one restored by the committer counts too). A
        // committer that is behind gets time to catch up (the pipeline waits: back
        // pressure); one that cannot, because checkpoints keep failing, fails the writer.
        let most = (txns.pool - 3) as usize;
        if pending > most
            && let Err(pending) = txns.wait_for_commits(&self.attempt, self.subtask, most, COMMITTER_BEHIND_LIMIT).await
        {
            return Err(KafkaError::TransactionPoolExhausted { subtask: self.subtask, pending, pool: txns.pool }.into());
        }
        tracing::debug!(checkpoint_id, total_ms = started.elapsed().as_millis() as u64, "pre-committed");
        let spare = txns.spare(txns.id(self.subtask, next_seq + 1), &self.attempt);
        *open = Open { seq: next_seq, id: next_id, records: RecordLog::default(), spare: Some(spare), fencing: None };
        Ok(vec![committable])
    }

    fn snapshot_state(&mut self, _checkpoint_id: u64) -> Result<Vec<KafkaWriterState>> {
        Ok(match &self.transactions {
            Some((txns, open)) => vec![KafkaWriterState { subtask: self.subtask, next_seq: open.seq, pool: txns.pool }],
            None => Vec::new(),
        })
    }
}

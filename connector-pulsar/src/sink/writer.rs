//! Sends each record without waiting (the client pipelines them) and keeps the
//! message and its send receipt; at a checkpoint, and when `max_pending` receipts are
//! outstanding, the receipts are awaited. A message whose receipt fails (a lost
//! connection: the client connects again) is sent again, with backoff, for up to
//! `send_timeout`; then the checkpoint fails and the job restarts from the last one:
//! at-least-once either way.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use connector_base::schema::SerializationSchema;
use pulsar::producer::{Message, ProducerOptions, SendFuture};
use pulsar::{Producer, Pulsar, TokioExecutor};
use stream_core::Result;
use stream_core::api::SinkWriter;
use stream_core::retry::RetryPolicy;

use crate::client::Retries;
use crate::config::{KeyOf, PulsarSink};
use crate::error::PulsarError;

/// The writer of one subtask.
pub struct PulsarWriter<T: 'static> {
    topic: String,
    schema: Arc<dyn SerializationSchema<T>>,
    key: Option<KeyOf<T>>,
    batching: bool,
    max_pending: usize,
    max_message_size: usize,
    send_timeout: Duration,
    producer: Producer<TokioExecutor>,
    /// Messages sent, oldest first, with their receipts.
    pending: VecDeque<(Message, Receipt)>,
    /// Dropped after the producer (fields drop in order).
    _client: Pulsar<TokioExecutor>,
}

impl<T: Send + 'static> PulsarWriter<T> {
    /// Connect and create the producer (a partitioned topic's producer routes over its
    /// partitions).
    pub(crate) async fn new(sink: &PulsarSink<T>) -> Result<Self> {
        let client = crate::client::connect(&sink.url, sink.connect_timeout, Retries::Client).await?;
        // A full client queue waits instead of failing the send with `SlowDown`.
        let options =
            ProducerOptions { batch_size: sink.batch_size, block_queue_if_full: true, ..ProducerOptions::default() };
        let creating = client.producer().with_topic(&sink.topic).with_options(options).build();
        let producer = match tokio::time::timeout(sink.connect_timeout, creating).await {
            Ok(Ok(producer)) => producer,
            Ok(Err(source)) => return Err(PulsarError::Producer { topic: sink.topic.clone(), source }.into()),
            Err(_) => {
                let source = pulsar::Error::Custom(format!("no producer within {:?}", sink.connect_timeout));
                return Err(PulsarError::Producer { topic: sink.topic.clone(), source }.into());
            }
        };
        Ok(PulsarWriter {
            topic: sink.topic.clone(),
            schema: sink.schema.clone(),
            key: sink.key.clone(),
            batching: sink.batch_size.is_some(),
            max_pending: sink.max_pending,
            max_message_size: sink.max_message_size,
            send_timeout: sink.send_timeout,
            producer,
            pending: VecDeque::new(),
            _client: client,
        })
    }

    fn send_failed(&self, reason: impl std::fmt::Display) -> stream_core::StreamError {
        PulsarError::Send { topic: self.topic.clone(), reason: reason.to_string() }.into()
    }

    /// Await the oldest receipt; a failed one is sent again until `send_timeout`.
    async fn settle_oldest(&mut self) -> Result<()> {
        let Some((message, mut receipt)) = self.pending.pop_front() else { return Ok(()) };
        let deadline = tokio::time::Instant::now() + self.send_timeout;
        let mut backoff = RetryPolicy::exponential(Duration::from_millis(50), Duration::from_secs(1)).backoff();
        loop {
            let failure = match tokio::time::timeout_at(deadline, receipt.wait()).await {
                Ok(Ok(())) => {
                    metrics::counter!("pulsar_sink_messages_sent_total").increment(1);
                    return Ok(());
                }
                Ok(Err(reason)) => reason,
                Err(_) => return Err(self.send_failed(format!("no receipt within {:?}", self.send_timeout))),
            };
            let delay = backoff.delay();
            if tokio::time::Instant::now() + delay >= deadline {
                return Err(self.send_failed(format!("{failure} (sent again for {:?})", self.send_timeout)));
            }
            tracing::debug!(topic = %self.topic, %failure, ?delay, "a send failed; sending it again");
            metrics::counter!("pulsar_sink_messages_resent_total").increment(1);
            tokio::time::sleep(delay).await;
            receipt = Receipt::of(self.producer.send_non_blocking(message.clone()).await);
        }
    }
}

/// A send's receipt to come, or the send already failed.
enum Receipt {
    Coming(SendFuture),
    Failed(String),
}

impl Receipt {
    fn of(sent: std::result::Result<SendFuture, pulsar::Error>) -> Receipt {
        match sent {
            Ok(receipt) => Receipt::Coming(receipt),
            Err(e) => Receipt::Failed(e.to_string()),
        }
    }

    /// `Ok` once stored; `Err` with why not.
    async fn wait(self) -> std::result::Result<(), String> {
        match self {
            Receipt::Coming(receipt) => receipt.await.map(drop).map_err(|e| e.to_string()),
            Receipt::Failed(reason) => Err(reason),
        }
    }
}

impl<T: Send + 'static> SinkWriter<T> for PulsarWriter<T> {
    type Committable = ();
    type State = ();

    async fn write(&mut self, record: T) -> Result<()> {
        let payload = self
            .schema
            .serialize(&record)
            .map_err(|source| PulsarError::Serialize { topic: self.topic.clone(), source })?;
        if payload.len() > self.max_message_size {
            return Err(PulsarError::Serialize {
                topic: self.topic.clone(),
                source: format!(
                    "a record of {} bytes is larger than max_message_size ({} bytes)",
                    payload.len(),
                    self.max_message_size
                )
                .into(),
            }
            .into());
        }
        let partition_key = self.key.as_ref().and_then(|key| key(&record));
        let message = Message { payload, partition_key, ..Message::default() };
        // A send refused at once (no connection) is settled, and sent again, in turn.
        let receipt = Receipt::of(self.producer.send_non_blocking(message.clone()).await);
        self.pending.push_back((message, receipt));
        while self.pending.len() > self.max_pending {
            self.settle_oldest().await?;
        }
        Ok(())
    }

    async fn flush(&mut self, _end_of_input: bool) -> Result<()> {
        if self.batching {
            self.producer.send_batch().await.map_err(|e| self.send_failed(e))?;
        }
        while !self.pending.is_empty() {
            self.settle_oldest().await?;
        }
        Ok(())
    }

    fn snapshot_state(&mut self, _checkpoint_id: u64) -> Result<Vec<()>> {
        Ok(Vec::new())
    }
}

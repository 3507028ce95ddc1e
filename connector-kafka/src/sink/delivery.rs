//! Sending records and waiting for their delivery reports: a delivery error fails the
//! next flush (and so the checkpoint); a full producer queue waits for deliveries.

use std::time::Duration;

use futures::FutureExt;
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord};
use rdkafka::types::RDKafkaErrorCode;
use stream_core::Result;

use super::written::WrittenOffsets;
use crate::error::KafkaError;
use crate::logging::Logged;
use crate::record::ProducerRecord;

/// Where a delivered record went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Delivered {
    pub partition: i32,
    pub offset: i64,
}

/// Records sent and not yet confirmed, oldest first, each with its topic's index in
/// `written`.
#[derive(Default)]
pub(crate) struct InFlight {
    pending: std::collections::VecDeque<(DeliveryFuture, u32)>,
    /// Where delivered records landed, when kept (exactly-once).
    written: Option<WrittenOffsets>,
    /// Exactly-once: a wait for reports fails once none came for this long (the
    /// sink's `transaction_call_timeout`), instead of waiting out the producer's
    /// `message.timeout.ms` while a transaction is held open.
    quiet_limit: Option<Duration>,
}

fn future_record(record: &ProducerRecord) -> FutureRecord<'_, [u8], [u8]> {
    let mut out = FutureRecord::to(&record.topic);
    if let Some(key) = &record.key {
        out = out.key(key.as_slice());
    }
    if let Some(value) = &record.value {
        out = out.payload(value.as_slice());
    }
    if let Some(partition) = record.partition {
        out = out.partition(partition);
    }
    if let Some(ts) = record.timestamp_ms {
        out = out.timestamp(ts);
    }
    if !record.headers.is_empty() {
        let mut headers = rdkafka::message::OwnedHeaders::new();
        for (k, v) in &record.headers {
            headers = headers.insert(rdkafka::message::Header { key: k, value: Some(v.as_slice()) });
        }
        out = out.headers(headers);
    }
    out
}

/// What a delivery future resolves to.
type Report = <DeliveryFuture as std::future::Future>::Output;

fn delivered(report: Report) -> Result<Delivered> {
    match report {
        Ok(Ok(d)) => Ok(Delivered { partition: d.partition, offset: d.offset }),
        Ok(Err((e, _))) if e.rdkafka_error_code() == Some(RDKafkaErrorCode::MessageTimedOut) => {
            Err(KafkaError::failed(
                "deliver",
                format!(
                    "{e}: not delivered within the producer's message.timeout.ms (default 300 s); check the brokers \
                 and the network to them, or raise message.timeout.ms"
                ),
            ))
        }
        Ok(Err((e, _))) => Err(KafkaError::client("deliver", e)),
        Err(_) => Err(KafkaError::failed("deliver", "the producer was closed before the delivery report")),
    }
}

impl InFlight {
    /// For a transaction: a wait fails once no report came for `quiet_limit`; where
    /// every delivered record landed is kept with `keep_offsets` (see
    /// [`Self::take_written`]).
    pub fn transactional(quiet_limit: Duration, keep_offsets: bool) -> Self {
        let written = keep_offsets.then(WrittenOffsets::default);
        InFlight { pending: Default::default(), written, quiet_limit: Some(quiet_limit) }
    }

    /// The report of `future`, within the quiet limit if there is one.
    async fn report(&self, future: DeliveryFuture) -> Result<Report> {
        let Some(limit) = self.quiet_limit else { return Ok(future.await) };
        tokio::time::timeout(limit, future).await.map_err(|_| {
            KafkaError::CallTimedOut {
                operation: "wait for deliveries",
                timeout: limit,
                message: "no delivery report came for the open transaction's records".into(),
            }
            .into()
        })
    }

    /// Where the records delivered since the last call landed (empty unless made by
    /// [`Self::transactional`] with `keep_offsets`); call after [`Self::wait_all`].
    pub fn take_written(&mut self) -> WrittenOffsets {
        self.written.as_mut().map(std::mem::take).unwrap_or_default()
    }

    fn note(&mut self, topic: u32, report: Report) -> Result<()> {
        let d = delivered(report)?;
        if let Some(written) = self.written.as_mut() {
            written.add(topic, d.partition, d.offset);
        }
        Ok(())
    }

    /// Enqueue `record`; when the producer's queue is full, wait for deliveries first.
    pub async fn send(&mut self, producer: &FutureProducer<Logged>, record: &ProducerRecord) -> Result<()> {
        let topic = self.written.as_mut().map_or(0, |w| w.topic_index(&record.topic));
        loop {
            match producer.send_result(future_record(record)) {
                Ok(future) => {
                    self.pending.push_back((future, topic));
                    if self.pending.len().is_multiple_of(1024) {
                        self.reap()?;
                    }
                    return Ok(());
                }
                Err((rdkafka::error::KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                    if self.pending.is_empty() {
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    } else {
                        let half = self.pending.len().div_ceil(2);
                        for (future, topic) in self.pending.drain(..half).collect::<Vec<_>>() {
                            let report = self.report(future).await?;
                            self.note(topic, report)?;
                        }
                    }
                }
                Err((e, _)) => return Err(KafkaError::client("send", e)),
            }
        }
    }

    /// Drop the reports that already arrived at the front (reports come in send order
    /// per partition, so this stays cheap), failing on the first error.
    fn reap(&mut self) -> Result<()> {
        while let Some((front, topic)) = self.pending.front_mut() {
            let topic = *topic;
            let Some(report) = front.now_or_never() else { break };
            self.pending.pop_front();
            self.note(topic, report)?;
        }
        Ok(())
    }

    /// Wait for every delivery report; the first error fails.
    pub async fn wait_all(&mut self) -> Result<()> {
        while let Some((future, topic)) = self.pending.pop_front() {
            let report = self.report(future).await?;
            self.note(topic, report)?;
        }
        Ok(())
    }

    /// Send one record and wait for its delivery (the records sent before are not
    /// waited for).
    pub async fn send_and_wait(&self, producer: &FutureProducer<Logged>, record: &ProducerRecord) -> Result<Delivered> {
        let future = producer.send_result(future_record(record)).map_err(|(e, _)| KafkaError::client("send", e))?;
        delivered(self.report(future).await?)
    }
}

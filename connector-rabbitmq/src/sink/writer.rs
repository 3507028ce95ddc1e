//! Publishes with publisher confirms. Each publish returns a confirm to await; at a
//! checkpoint every outstanding confirm is awaited, and a nack or a returned
//! (unroutable, `mandatory`) message fails the checkpoint: at-least-once.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{BasicProperties, Channel};
use lapin::{Confirmation, PublisherConfirm};
use stream_core::api::SinkWriter;
use stream_core::{Result, StreamError};

use crate::config::{RabbitMqSink, ReturnPolicy};
use crate::connection::{OwnedConnection, connect, within};
use crate::error::RabbitMqError;
use crate::message::{MessageSerializer, OutgoingMessage};

/// A published message awaiting its confirm (with where it went, for errors).
struct Pending {
    confirm: PublisherConfirm,
    exchange: String,
    routing_key: String,
}

/// The writer of one subtask.
pub struct RabbitMqWriter<T: 'static> {
    serializer: Arc<dyn MessageSerializer<T>>,
    /// Closed when the writer is dropped.
    _connection: OwnedConnection,
    channel: Channel,
    mandatory: bool,
    returns: ReturnPolicy,
    max_in_flight: usize,
    operation_timeout: Duration,
    pending: VecDeque<Pending>,
}

impl<T: Send + 'static> RabbitMqWriter<T> {
    /// Connect, open a channel and enable publisher confirms.
    pub(crate) async fn new(sink: &RabbitMqSink<T>) -> Result<Self> {
        let connection = connect(&sink.url, sink.connect_timeout).await?;
        let timeout = sink.operation_timeout;
        let channel = within(timeout, "open channel", connection.create_channel()).await?;
        within(timeout, "enable publisher confirms", channel.confirm_select(ConfirmSelectOptions::default())).await?;
        Ok(RabbitMqWriter {
            serializer: sink.serializer.clone(),
            _connection: connection,
            channel,
            mandatory: sink.mandatory,
            returns: sink.returns,
            max_in_flight: sink.max_in_flight,
            operation_timeout: timeout,
            pending: VecDeque::new(),
        })
    }
}

fn properties(message: &OutgoingMessage) -> BasicProperties {
    let mut props = BasicProperties::default().with_delivery_mode(if message.persistent { 2 } else { 1 });
    if let Some(id) = &message.correlation_id {
        props = props.with_correlation_id(ShortString::from(id.as_str()));
    }
    if !message.headers.is_empty() {
        let mut table = FieldTable::default();
        for (k, v) in &message.headers {
            table.insert(ShortString::from(k.as_str()), AMQPValue::LongString(LongString::from(v.as_str())));
        }
        props = props.with_headers(table);
    }
    props
}

impl<T: Send + 'static> RabbitMqWriter<T> {
    /// Await one confirm; a nack or a return is an error (or logged, by policy).
    async fn settle(&self, pending: Pending) -> Result<()> {
        let confirmation = within(self.operation_timeout, "await publisher confirm", pending.confirm).await?;
        let not_delivered = |what: &'static str, detail: String| -> StreamError {
            RabbitMqError::NotDelivered {
                what,
                exchange: pending.exchange.clone(),
                routing_key: pending.routing_key.clone(),
                detail,
            }
            .into()
        };
        match confirmation {
            Confirmation::Ack(None) | Confirmation::NotRequested => Ok(()),
            Confirmation::Ack(Some(returned)) => {
                let detail = format!(
                    ": {} {} (no queue is bound for it; declare the queue or the binding)",
                    returned.reply_code, returned.reply_text
                );
                match self.returns {
                    ReturnPolicy::Fail => Err(not_delivered("returned (unroutable)", detail)),
                    ReturnPolicy::Log => {
                        tracing::warn!(exchange = %pending.exchange, routing_key = %pending.routing_key, %detail, "message returned; dropped by policy");
                        Ok(())
                    }
                }
            }
            Confirmation::Nack(_) => {
                Err(not_delivered("nacked", " (the broker could not take it; see its log)".into()))
            }
        }
    }

    async fn publish(&mut self, message: OutgoingMessage) -> Result<()> {
        while self.pending.len() >= self.max_in_flight {
            if let Some(oldest) = self.pending.pop_front() {
                self.settle(oldest).await?;
            }
        }
        let options = BasicPublishOptions { mandatory: self.mandatory, ..BasicPublishOptions::default() };
        let publish = self.channel.basic_publish(
            message.exchange.as_str().into(),
            message.routing_key.as_str().into(),
            options,
            &message.body,
            properties(&message),
        );
        let confirm = within(self.operation_timeout, "publish", publish).await?;
        self.pending.push_back(Pending { confirm, exchange: message.exchange, routing_key: message.routing_key });
        Ok(())
    }
}

impl<T: Send + 'static> SinkWriter<T> for RabbitMqWriter<T> {
    type Committable = ();
    type State = ();

    async fn write(&mut self, record: T) -> Result<()> {
        let message = self
            .serializer
            .serialize(&record)
            .map_err(|e| RabbitMqError::channel("serialize", format!("a record could not be serialized: {e}")))?;
        self.publish(message).await
    }

    /// Wait for every outstanding confirm; a nack or a return fails the checkpoint.
    async fn flush(&mut self, _end_of_input: bool) -> Result<()> {
        while let Some(pending) = self.pending.pop_front() {
            self.settle(pending).await?;
        }
        Ok(())
    }
}

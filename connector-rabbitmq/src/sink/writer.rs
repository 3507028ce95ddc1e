//! Publishes with publisher confirms. Each publish returns a confirm to await; at a
//! checkpoint every outstanding confirm is awaited, and a nack or a returned
//! (unroutable, `mandatory`) message fails the checkpoint: at-least-once. A lost
//! connection (a network cut) does not fail the task: the writer connects again
//! (within `connect_timeout`) and publishes every message not yet confirmed again.

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
use crate::connection::{OwnedConnection, SetUpAttempts, connection_lost, within, within_raw};
use crate::error::RabbitMqError;
use crate::message::{MessageSerializer, OutgoingMessage};

/// A published message awaiting its confirm, kept to publish again on a new
/// connection if this one is lost first.
struct Pending {
    /// `None`: the publish itself failed with the connection (or the confirm is
    /// being awaited).
    confirm: Option<PublisherConfirm>,
    message: OutgoingMessage,
}

/// How awaiting a confirm ended.
enum Settled {
    Done,
    /// The connection went away first: publish again on a new one.
    Lost(StreamError),
}

/// The writer of one subtask.
pub struct RabbitMqWriter<T: 'static> {
    serializer: Arc<dyn MessageSerializer<T>>,
    url: String,
    connect_timeout: Duration,
    /// Closed when the writer is dropped.
    connection: OwnedConnection,
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
        let (connection, channel) = open(&sink.url, sink.connect_timeout, sink.operation_timeout).await?;
        Ok(RabbitMqWriter {
            serializer: sink.serializer.clone(),
            url: sink.url.clone(),
            connect_timeout: sink.connect_timeout,
            connection,
            channel,
            mandatory: sink.mandatory,
            returns: sink.returns,
            max_in_flight: sink.max_in_flight,
            operation_timeout: sink.operation_timeout,
            pending: VecDeque::new(),
        })
    }
}

/// A connection and a channel with publisher confirms; a connection lost while
/// setting them up is set up again, within `connect_timeout` in all.
async fn open(url: &str, connect_timeout: Duration, timeout: Duration) -> Result<(OwnedConnection, Channel)> {
    let attempts = SetUpAttempts::within(connect_timeout);
    loop {
        let connection = attempts.connect(url).await?;
        match confirming_channel(&connection, timeout).await {
            Err(e) if attempts.again(&connection, &e).await => continue,
            made => return Ok((connection, made?)),
        }
    }
}

async fn confirming_channel(connection: &OwnedConnection, timeout: Duration) -> Result<Channel> {
    let channel = within(timeout, "open channel", connection.create_channel()).await?;
    within(timeout, "enable publisher confirms", channel.confirm_select(ConfirmSelectOptions::default())).await?;
    Ok(channel)
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
    fn lost(&self) -> bool {
        !self.connection.status().connected() || !self.channel.status().connected()
    }

    /// Await the oldest confirm (kept until settled); a nack or a return is an error
    /// (or logged, by policy); a lost connection publishes everything unconfirmed
    /// again on a new one.
    async fn settle_oldest(&mut self) -> Result<()> {
        let Some(pending) = self.pending.front_mut() else { return Ok(()) };
        let settled = match pending.confirm.take() {
            Some(confirm) => self.settle(confirm).await?,
            None => Settled::Lost(RabbitMqError::channel("publish", "the connection was lost")),
        };
        match settled {
            Settled::Done => {
                self.pending.pop_front();
                Ok(())
            }
            Settled::Lost(e) => self.publish_again(e).await,
        }
    }

    /// Connect again and publish every unconfirmed message again, in order.
    async fn publish_again(&mut self, why: StreamError) -> Result<()> {
        tracing::warn!(error = %why, unconfirmed = self.pending.len(), "rabbitmq connection lost; publishing the unconfirmed messages again on a new one");
        let (connection, channel) = open(&self.url, self.connect_timeout, self.operation_timeout).await?;
        (self.connection, self.channel) = (connection, channel);
        let unconfirmed: Vec<OutgoingMessage> = self.pending.drain(..).map(|p| p.message).collect();
        for message in unconfirmed {
            self.publish_now(message).await?;
        }
        Ok(())
    }

    async fn settle(&self, confirm: PublisherConfirm) -> Result<Settled> {
        let confirmation = match within_raw(self.operation_timeout, "await publisher confirm", confirm).await? {
            Ok(confirmation) => confirmation,
            Err(e) if self.lost() || connection_lost(&e) => {
                return Ok(Settled::Lost(RabbitMqError::client("await publisher confirm", e)));
            }
            Err(e) => return Err(RabbitMqError::client("await publisher confirm", e)),
        };
        let Some(pending) = self.pending.front() else { return Ok(Settled::Done) };
        let not_delivered = |what: &'static str, detail: String| -> StreamError {
            RabbitMqError::NotDelivered {
                what,
                exchange: pending.message.exchange.clone(),
                routing_key: pending.message.routing_key.clone(),
                detail,
            }
            .into()
        };
        match confirmation {
            Confirmation::Ack(None) | Confirmation::NotRequested => Ok(Settled::Done),
            Confirmation::Ack(Some(returned)) => {
                let detail = format!(
                    ": {} {} (no queue is bound for it; declare the queue or the binding)",
                    returned.reply_code, returned.reply_text
                );
                match self.returns {
                    ReturnPolicy::Fail => Err(not_delivered("returned (unroutable)", detail)),
                    ReturnPolicy::Log => {
                        let m = &pending.message;
                        tracing::warn!(exchange = %m.exchange, routing_key = %m.routing_key, %detail, "message returned; dropped by policy");
                        Ok(Settled::Done)
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
            self.settle_oldest().await?;
        }
        if self.lost() {
            self.publish_again(RabbitMqError::channel("publish", "the connection is closed")).await?;
        }
        self.publish_now(message).await
    }

    /// Publish on the current channel and keep the message until confirmed; a
    /// publish refused because the connection went away is sent again later.
    async fn publish_now(&mut self, message: OutgoingMessage) -> Result<()> {
        let options = BasicPublishOptions { mandatory: self.mandatory, ..BasicPublishOptions::default() };
        let publish = self.channel.basic_publish(
            message.exchange.as_str().into(),
            message.routing_key.as_str().into(),
            options,
            &message.body,
            properties(&message),
        );
        let confirm = match within_raw(self.operation_timeout, "publish", publish).await? {
            Ok(confirm) => Some(confirm),
            // Kept unconfirmed: the next settle finds it so and sends it again.
            Err(e) if self.lost() || connection_lost(&e) => None,
            Err(e) => return Err(RabbitMqError::client("publish", e)),
        };
        self.pending.push_back(Pending { confirm, message });
        Ok(())
    }
}

impl<T: Send + 'static> SinkWriter<T> for RabbitMqWriter<T> {
    type Committable = ();
    type State = ();

    async fn write(&mut self, record: T) -> Result<()> {
        let message = self.serializer.serialize(&record).map_err(connector_base::BaseError::unencodable)?;
        self.publish(message).await
    }

    /// Wait for every outstanding confirm; a nack or a return fails the checkpoint.
    async fn flush(&mut self, _end_of_input: bool) -> Result<()> {
        while !self.pending.is_empty() {
            self.settle_oldest().await?;
        }
        Ok(())
    }
}

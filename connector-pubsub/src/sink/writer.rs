//! Publishes through the official publisher (its own batching). Each publish returns
//! a future of the message id; at a checkpoint every one is awaited. A failure that
//! may pass (unavailable, deadline, internal, ...) publishes the message again with
//! backoff, for at most `publish_timeout` from its first try; NOT_FOUND,
//! PERMISSION_DENIED and INVALID_ARGUMENT (a message over 10 MB) fail at once naming
//! the topic.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use google_cloud_gax::error::rpc::Code;
use google_cloud_pubsub::client::Publisher;
use google_cloud_pubsub::error::PublishError;
use google_cloud_pubsub::model::Message;
use google_cloud_pubsub::publisher::PublishFuture;
use stream_core::api::SinkWriter;
use stream_core::retry::RetryPolicy;
use stream_core::{Result, StreamError};

use crate::config::{PubSubSink, ToMessage};
use crate::error::PubSubError;

/// Publishes awaiting their result; beyond this, a write waits for the oldest.
const MAX_PENDING: usize = 10_000;

/// Pub/Sub's limit on one message (and on one publish request).
const MAX_MESSAGE_BYTES: usize = 10_000_000;

struct Pending {
    /// Kept to publish again; its payload is shared, not copied.
    message: Message,
    first_try: Instant,
    future: PublishFuture,
}

/// The writer of one subtask.
pub struct PubSubWriter<T: 'static> {
    publisher: Publisher,
    topic: String,
    to_message: ToMessage<T>,
    publish_timeout: Duration,
    pending: VecDeque<Pending>,
}

impl<T: Send + 'static> PubSubWriter<T> {
    pub(crate) async fn new(sink: &PubSubSink<T>) -> Result<Self> {
        let publisher = sink.endpoint.publisher(&sink.topic, &sink.batching, sink.publish_timeout).await?;
        Ok(PubSubWriter {
            publisher,
            topic: sink.topic.clone(),
            to_message: sink.to_message.clone(),
            publish_timeout: sink.publish_timeout,
            pending: VecDeque::new(),
        })
    }

    fn publish(&mut self, message: Message, first_try: Instant) {
        let future = self.publisher.publish(message.clone());
        self.pending.push_back(Pending { message, first_try, future });
    }

    /// Await the oldest publish; publish it again when it failed in a way that may
    /// pass.
    async fn settle_oldest(&mut self) -> Result<()> {
        let Some(mut pending) = self.pending.pop_front() else { return Ok(()) };
        let mut backoff = RetryPolicy::exponential(Duration::from_millis(100), Duration::from_secs(5)).backoff();
        loop {
            let error = match (&mut pending.future).await {
                Ok(_id) => return Ok(()),
                Err(e) => e,
            };
            // The service refused for good: no restart changes that.
            let refused = |message: String, hint: &'static str| -> StreamError {
                StreamError::permanent(PubSubError::Refused { topic: self.topic.clone(), message, hint })
            };
            match &error {
                PublishError::Rpc(e) => match e.status().map(|s| s.code) {
                    Some(Code::NotFound) => return Err(refused(e.to_string(), " (create the topic first)")),
                    Some(Code::PermissionDenied) => {
                        return Err(refused(e.to_string(), " (grant the credentials pubsub.topics.publish)"));
                    }
                    Some(Code::InvalidArgument) => {
                        return Err(refused(e.to_string(), " (a message over 10 MB, or a bad attribute)"));
                    }
                    _ => {}
                },
                PublishError::OrderingKeyPaused => self.publisher.resume_publish(pending.message.ordering_key.clone()),
                _ => {}
            }
            if pending.first_try.elapsed() >= self.publish_timeout {
                return Err(PubSubError::PublishTimedOut {
                    topic: self.topic.clone(),
                    timeout: self.publish_timeout,
                    message: error.to_string(),
                }
                .into());
            }
            let delay = backoff.delay();
            tracing::warn!(topic = %self.topic, error = %error, ?delay, "publish failed; publishing again");
            tokio::time::sleep(delay).await;
            pending.future = self.publisher.publish(pending.message.clone());
        }
    }
}

impl<T: Send + 'static> SinkWriter<T> for PubSubWriter<T> {
    type Committable = ();
    type State = ();

    async fn write(&mut self, record: T) -> Result<()> {
        let message = (self.to_message)(&record).map_err(connector_base::BaseError::unencodable)?;
        let size = message.size();
        if size > MAX_MESSAGE_BYTES {
            let topic = self.topic.clone();
            return Err(PubSubError::TooLarge { topic, size, limit: MAX_MESSAGE_BYTES }.into());
        }
        while self.pending.len() >= MAX_PENDING {
            self.settle_oldest().await?;
        }
        self.publish(message.into_message(), Instant::now());
        Ok(())
    }

    /// Wait for every publish; a failure fails the checkpoint.
    async fn flush(&mut self, _end_of_input: bool) -> Result<()> {
        self.publisher.flush().await;
        while !self.pending.is_empty() {
            self.settle_oldest().await?;
        }
        Ok(())
    }
}

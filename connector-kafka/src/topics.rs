//! Topics the connector makes itself (the exactly-once sink's commit markers, a
//! repartition topic): created when missing, or given more partitions when short.

use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewPartitions, NewTopic, TopicReplication};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::types::RDKafkaErrorCode;
use stream_core::{Result, StreamError};

use crate::client::ClientProperties;
use crate::error::KafkaError;
use crate::logging::Logged;

/// A failed admin or transaction call; one that ran out of `call_timeout` says so,
/// naming the option.
pub(crate) fn call_failed(
    operation: &'static str,
    call_timeout: Duration,
    e: rdkafka::error::KafkaError,
) -> StreamError {
    match e.rdkafka_error_code() {
        Some(RDKafkaErrorCode::OperationTimedOut | RDKafkaErrorCode::RequestTimedOut) => {
            KafkaError::CallTimedOut { operation, timeout: call_timeout, message: e.to_string() }.into()
        }
        _ => KafkaError::client(operation, e),
    }
}

/// A topic of `partitions` partitions with the topic settings `configs`.
pub(crate) struct TopicSpec<'a> {
    pub name: &'a str,
    pub partitions: usize,
    pub configs: &'a [(&'a str, &'a str)],
    /// Why it needs that many partitions, for the error when it cannot have them.
    pub why: &'a str,
}

/// Create `topic` if it is missing, or add partitions up to `topic.partitions`
/// (another client doing the same at once is fine); each call waits at most
/// `call_timeout`.
pub(crate) async fn ensure_partitions(
    client: &ClientProperties,
    topic: TopicSpec<'_>,
    call_timeout: Duration,
) -> Result<()> {
    let what = "create topic";
    let failed = |e| call_failed(what, call_timeout, e);
    let admin: AdminClient<Logged> = client
        .config(&[])
        .create_with_context(Logged::default())
        .map_err(|e| KafkaError::client("create admin client", e))?;
    let options = AdminOptions::new().operation_timeout(Some(call_timeout)).request_timeout(Some(call_timeout));
    let wanted = i32::try_from(topic.partitions)
        .map_err(|_| KafkaError::failed(what, format!("{} partitions", topic.partitions)))?;
    let mut new = NewTopic::new(topic.name, wanted, TopicReplication::Fixed(1));
    for (key, value) in topic.configs {
        new = new.set(key, value);
    }
    for result in admin.create_topics(&[new], &options).await.map_err(failed)? {
        match result {
            Ok(_) => return Ok(()),
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((_, code @ (RDKafkaErrorCode::RequestTimedOut | RDKafkaErrorCode::OperationTimedOut))) => {
                let message = code.to_string();
                return Err(KafkaError::CallTimedOut { operation: what, timeout: call_timeout, message }.into());
            }
            Err((name, code)) => return Err(KafkaError::failed(what, format!("{name}: {code}"))),
        }
    }
    let consumer: BaseConsumer<Logged> = client
        .config(&[])
        .create_with_context(Logged::default())
        .map_err(|e| KafkaError::client("create metadata client", e))?;
    let name = topic.name.to_string();
    let has = tokio::task::spawn_blocking(move || {
        let metadata = consumer.fetch_metadata(Some(&name), call_timeout)?;
        Ok::<_, rdkafka::error::KafkaError>(metadata.topics().first().map_or(0, |t| t.partitions().len()))
    })
    .await
    .map_err(|e| StreamError::join_failed("kafka topic metadata", e))?
    .map_err(failed)?;
    if has >= topic.partitions {
        return Ok(());
    }
    tracing::info!(topic = %topic.name, has, wanted, "adding partitions");
    let grow = NewPartitions::new(topic.name, topic.partitions);
    for result in admin.create_partitions(&[grow], &options).await.map_err(failed)? {
        match result {
            Ok(_) => {}
            // Another client grew it first.
            Err((_, RDKafkaErrorCode::InvalidPartitions)) => {}
            Err((name, code)) => {
                return Err(KafkaError::failed(
                    what,
                    format!("{name} has {has} partitions and needs {wanted} ({}): {code}", topic.why),
                ));
            }
        }
    }
    Ok(())
}

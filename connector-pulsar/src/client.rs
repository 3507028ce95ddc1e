//! The `pulsar` client, connected within a time limit.

use std::time::Duration;

use pulsar::{ConnectionRetryOptions, OperationRetryOptions, Pulsar, TokioExecutor};
use stream_core::Result;

use crate::error::PulsarError;

/// How a client retries on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Retries {
    /// The client's defaults: a producer reconnects and sends again by itself.
    Client,
    /// Almost none: a consumer whose connection is lost ends, and the source
    /// subscribes again with a new client. Left to itself, a consumer's engine keeps
    /// retrying for ever and can take the Exclusive subscription back after the
    /// source has moved on, holding it from the new consumer.
    Ours,
}

/// A client of the broker at `url`, connected within `timeout`.
pub(crate) async fn connect(url: &str, timeout: Duration, retries: Retries) -> Result<Pulsar<TokioExecutor>> {
    let mut builder = Pulsar::builder(url, TokioExecutor);
    if retries == Retries::Ours {
        builder = builder
            .with_connection_retry_options(ConnectionRetryOptions {
                max_retries: 1,
                connection_timeout: timeout,
                ..ConnectionRetryOptions::default()
            })
            .with_operation_retry_options(OperationRetryOptions {
                operation_timeout: timeout,
                retry_delay: Duration::from_millis(100),
                max_retries: Some(1),
            });
    }
    let shown = connector_base::redact_url(url);
    match tokio::time::timeout(timeout, builder.build()).await {
        Ok(Ok(client)) => Ok(client),
        Ok(Err(source)) => Err(PulsarError::Connect { url: shown, source }.into()),
        Err(_) => Err(PulsarError::Connect {
            url: shown,
            source: pulsar::Error::Custom(format!("no connection within {timeout:?}")),
        }
        .into()),
    }
}

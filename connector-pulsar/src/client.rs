//! The `pulsar` client, connected within a time limit.

use std::time::Duration;

use pulsar::{Pulsar, TokioExecutor};
use stream_core::Result;

use crate::error::PulsarError;

/// A client of the broker at `url`, connected within `timeout`.
pub(crate) async fn connect(url: &str, timeout: Duration) -> Result<Pulsar<TokioExecutor>> {
    let connecting = Pulsar::builder(url, TokioExecutor).build();
    let shown = connector_base::redact_url(url);
    match tokio::time::timeout(timeout, connecting).await {
        Ok(Ok(client)) => Ok(client),
        Ok(Err(source)) => Err(PulsarError::Connect { url: shown, source }.into()),
        Err(_) => Err(PulsarError::Connect {
            url: shown,
            source: pulsar::Error::Custom(format!("no connection within {timeout:?}")),
        }
        .into()),
    }
}

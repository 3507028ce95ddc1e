//! The sink: connector-base's batching, retrying [`AsyncSink`] with a remote-write
//! endpoint as its target; buffered series are part of the checkpoint.
//!
//! [`AsyncSink`]: connector_base::async_sink::AsyncSink

mod client;

pub use client::RemoteWriteClient;

use client::Answer;
use connector_base::DeliveryGuarantee;
use connector_base::async_sink::AsyncSinkTarget;
use std::time::Duration;

use stream_core::Result;
use stream_core::api::TaskContext;
use stream_core::retry::RetryPolicy;

use crate::config::RemoteWrite;
use crate::error::PrometheusError;
use crate::model::TimeSeries;

impl<T: Send + 'static> AsyncSinkTarget<T> for RemoteWrite<T> {
    type Client = RemoteWriteClient;

    /// The client, and an empty write to check the endpoint, its path and the
    /// credentials before any record.
    async fn connect(&self, _ctx: &TaskContext) -> Result<RemoteWriteClient> {
        let http = reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(10))
            .build()
            .map_err(PrometheusError::Client)?;
        let client = RemoteWriteClient {
            http,
            url: self.url.clone(),
            headers: self.headers.clone(),
            signer: self.signer.clone(),
            rejected: self.rejected,
        };
        // An endpoint that does not answer yet (a server restarting) is waited for.
        let policy = RetryPolicy::exponential(Duration::from_millis(100), Duration::from_secs(2))
            .give_up_after(self.startup_timeout);
        let check = || async {
            match client.send(&[]).await {
                Answer::Written => Ok(()),
                other => Err(other),
            }
        };
        match policy.retry("the remote-write endpoint", check, |answer| matches!(answer, Answer::Again(_))).await {
            Ok(()) => Ok(client),
            Err(answer) => {
                Err(PrometheusError::Endpoint { url: connector_base::redact_url(&self.url), reason: answer.reason() }
                    .into())
            }
        }
    }

    fn connector_name(&self) -> &'static str {
        "prometheus"
    }

    fn convert(&self, record: T) -> Result<TimeSeries> {
        Ok((self.convert)(record)?)
    }

    /// Exactly-once when each series is written by one subtask in time order: a
    /// replay after a restore is refused by Prometheus as old and dropped, what was
    /// not written yet is written.
    fn guarantee(&self) -> DeliveryGuarantee {
        DeliveryGuarantee::ExactlyOnce
    }
}

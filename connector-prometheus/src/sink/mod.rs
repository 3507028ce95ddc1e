//! The sink: connector-base's batching, retrying [`AsyncSink`] with a remote-write
//! endpoint as its target; buffered series are part of the checkpoint.
//!
//! [`AsyncSink`]: connector_base::async_sink::AsyncSink

mod client;

pub use client::RemoteWriteClient;

use client::Answer;
use connector_base::DeliveryGuarantee;
use connector_base::async_sink::AsyncSinkTarget;
use stream_core::Result;
use stream_core::api::TaskContext;

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
        match client.send(&[]).await {
            Answer::Written => Ok(client),
            Answer::Again(reason) | Answer::Refused(reason) | Answer::Fatal(reason) => {
                Err(PrometheusError::Endpoint { url: connector_base::redact_url(&self.url), reason }.into())
            }
        }
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

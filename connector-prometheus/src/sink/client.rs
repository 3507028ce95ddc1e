//! One remote write per batch. 429, 5xx and I/O errors are sent again by the writer;
//! 401, 403, 404 and other refusals fail it. A 400 for samples older than their
//! series is what a replay after a restore gets: Prometheus 2 then keeps nothing of
//! the request, so its series are written one at a time, and a refused series one
//! sample at a time in time order until one is taken (the rest at once): each
//! refused sample follows the [`RejectedSamples`] policy, every other sample is
//! written.

use std::sync::Arc;

use connector_base::async_sink::{AsyncSinkClient, SubmitResult};
use reqwest::header::{CONTENT_ENCODING, CONTENT_TYPE, HeaderName, HeaderValue};

use crate::config::{RejectedSamples, RequestSigner};
use crate::model::{Sample, TimeSeries};
use crate::proto;

/// Sends batches of series to one remote-write endpoint.
pub struct RemoteWriteClient {
    pub(crate) http: reqwest::Client,
    pub(crate) url: String,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) signer: Option<Arc<dyn RequestSigner>>,
    pub(crate) rejected: RejectedSamples,
}

/// How Prometheus answered one request.
#[derive(Debug, PartialEq)]
pub(crate) enum Answer {
    Written,
    /// Worth sending again: throttled, a server error, no answer.
    Again(String),
    /// Samples older than their series (or too old): nothing of the request was kept.
    Refused(String),
    /// Sending again cannot help.
    Fatal(String),
}

impl std::fmt::Display for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Answer::Written => f.write_str("written"),
            Answer::Again(reason) | Answer::Refused(reason) | Answer::Fatal(reason) => f.write_str(reason),
        }
    }
}

impl Answer {
    pub(crate) fn reason(self) -> String {
        match self {
            Answer::Written => "written".into(),
            Answer::Again(reason) | Answer::Refused(reason) | Answer::Fatal(reason) => reason,
        }
    }
}

/// A 400 whose text says samples are older than what the series has.
fn refused_as_old(text: &str) -> bool {
    ["out of order", "duplicate sample", "out of bounds", "too old"].iter().any(|s| text.contains(s))
}

/// At most 300 characters of an answer's text.
fn short(text: &str) -> String {
    text.chars().take(300).collect::<String>().trim().to_string()
}

impl RemoteWriteClient {
    /// One request with `series`.
    pub(crate) async fn send(&self, series: &[&TimeSeries]) -> Answer {
        let body = match proto::body(series.iter().copied()) {
            Ok(body) => body,
            Err(e) => return Answer::Fatal(format!("compressing the request: {e}")),
        };
        let request = self
            .http
            .post(&self.url)
            .header(CONTENT_ENCODING, "snappy")
            .header(CONTENT_TYPE, "application/x-protobuf")
            .header("X-Prometheus-Remote-Write-Version", "0.1.0")
            .body(body)
            .build();
        let mut request = match request {
            Ok(request) => request,
            Err(e) => return Answer::Fatal(format!("building the request: {}", e.without_url())),
        };
        for (name, value) in &self.headers {
            if let (Ok(name), Ok(value)) = (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(value)) {
                request.headers_mut().insert(name, value);
            }
        }
        if let Some(signer) = &self.signer
            && let Err(reason) = signer.sign(&mut request).await
        {
            return Answer::Again(format!("signing the request: {reason}"));
        }
        let response = match self.http.execute(request).await {
            Ok(response) => response,
            Err(e) => return Answer::Again(e.without_url().to_string()),
        };
        let status = response.status();
        if status.is_success() {
            let samples: usize = series.iter().map(|s| s.samples().len()).sum();
            metrics::counter!("prometheus_sink_samples_written_total").increment(samples as u64);
            return Answer::Written;
        }
        let text = short(&response.text().await.unwrap_or_default());
        match status.as_u16() {
            429 | 500..=599 => Answer::Again(format!("{status}: {text}")),
            400 if refused_as_old(&text) => Answer::Refused(text),
            _ => Answer::Fatal(format!("{status}: {text}")),
        }
    }

    /// A sample of `series` was refused as old: follow the policy.
    fn on_rejected(&self, series: &TimeSeries, sample: &Sample, reason: &str) -> Result<(), Answer> {
        metrics::counter!("prometheus_sink_samples_rejected_total").increment(1);
        match self.rejected {
            RejectedSamples::DropAndCount => Ok(()),
            RejectedSamples::Fail => Err(Answer::Fatal(format!(
                "{series} at {} was refused: {reason} (rejected_samples is Fail)",
                sample.timestamp_ms
            ))),
        }
    }

    /// Write `series` alone; when refused, one sample at a time in time order until
    /// one is taken, then the rest at once. `Err` is an answer to pass on.
    async fn write_series(&self, series: &TimeSeries) -> Result<(), Answer> {
        let samples = series.samples();
        let (mut next, mut alone, mut dropped) = (0, false, 0usize);
        let mut first_reason = None;
        while next < samples.len() {
            let part = if alone { &samples[next..=next] } else { &samples[next..] };
            match self.send(&[&series.with_samples(part)]).await {
                Answer::Written => (next, alone) = (next + part.len(), false),
                Answer::Refused(reason) if alone => {
                    self.on_rejected(series, &samples[next], &reason)?;
                    first_reason.get_or_insert(reason);
                    (next, dropped) = (next + 1, dropped + 1);
                }
                Answer::Refused(_) => alone = true,
                other => return Err(other),
            }
        }
        if let Some(reason) = first_reason {
            tracing::warn!(%series, dropped, %reason,
                "samples refused as older than their series: a replay after a restore (already written) or late samples");
        }
        Ok(())
    }
}

impl AsyncSinkClient for RemoteWriteClient {
    type Entry = TimeSeries;

    fn entry_size(&self, entry: &TimeSeries) -> usize {
        entry.encoded_size()
    }

    async fn submit(&self, batch: Vec<TimeSeries>) -> SubmitResult<TimeSeries> {
        let all: Vec<&TimeSeries> = batch.iter().collect();
        let reason = match self.send(&all).await {
            Answer::Written => return SubmitResult::Success,
            Answer::Again(reason) => {
                tracing::debug!(%reason, series = batch.len(), "a remote write failed; sending it again");
                return SubmitResult::Retry(batch);
            }
            Answer::Fatal(reason) => {
                return SubmitResult::fatal_message(format!("remote write to {}: {reason}", self.url));
            }
            Answer::Refused(reason) => reason,
        };
        tracing::info!(series = batch.len(), %reason, "a remote write was refused for old samples; writing its series one at a time");
        for (index, series) in batch.iter().enumerate() {
            match self.write_series(series).await {
                Ok(()) => {}
                // This series and the rest again (what this one had written is now
                // refused as old, and counted, on the next try).
                Err(Answer::Again(_)) => return SubmitResult::Retry(batch[index..].to_vec()),
                Err(other) => {
                    return SubmitResult::fatal_message(format!("remote write to {}: {}", self.url, other.reason()));
                }
            }
        }
        SubmitResult::Success
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_for_old_samples_are_told_from_others() {
        assert!(refused_as_old("out of order sample"));
        assert!(refused_as_old("duplicate sample for timestamp"));
        assert!(refused_as_old("out of bounds"));
        assert!(!refused_as_old("invalid metric name"));
    }
}

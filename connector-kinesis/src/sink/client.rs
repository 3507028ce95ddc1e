//! One `PutRecords` per batch: entries that failed with a throughput or internal error
//! and throttled requests are retried by the writer; rejections that retrying cannot
//! mend fail it, naming Kinesis's code.

use aws_sdk_kinesis::error::SdkError;
use aws_sdk_kinesis::operation::put_records::{PutRecordsError, PutRecordsOutput};
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::PutRecordsRequestEntry;
use connector_base::async_sink::{AsyncSinkClient, SubmitResult};
use connector_base::aws::{self, RequestFailure};

use super::entry::KinesisEntry;
use crate::error::KinesisError;

/// Request error codes after which the same request may succeed.
const RETRYABLE: &[&str] = &[
    "ProvisionedThroughputExceededException",
    "LimitExceededException",
    "ThrottlingException",
    "InternalFailure",
    "ServiceUnavailable",
    "KMSThrottlingException",
];

/// Per-entry error codes after which the same entry may succeed.
const RETRYABLE_ENTRY: &[&str] = &["ProvisionedThroughputExceededException", "InternalFailure"];

/// Sends batches to one stream (the [`AsyncSinkClient`] of the sink; usable on its own
/// with connector-base's `AsyncSinkWriter`).
pub struct KinesisClient {
    client: aws_sdk_kinesis::Client,
    stream: String,
}

impl KinesisClient {
    /// A client writing to `stream` with the region, credentials and endpoint of `sdk`.
    pub fn new(sdk: &aws_config::SdkConfig, stream: impl Into<String>) -> Self {
        KinesisClient { client: aws_sdk_kinesis::Client::new(sdk), stream: stream.into() }
    }
}

/// What the answer to a partly failed batch means.
#[derive(Debug, PartialEq)]
pub(crate) enum Partial {
    /// These entries failed with a retryable code.
    Retry(Vec<KinesisEntry>),
    /// An entry failed in a way retrying cannot mend: (code, message).
    Fatal(String, String),
}

/// Sort the failed entries of a partly failed batch (results are in request order;
/// an answer that does not match the request is retried whole).
pub(crate) fn failed_entries(batch: Vec<KinesisEntry>, output: &PutRecordsOutput) -> Partial {
    let results = output.records();
    if results.len() != batch.len() {
        return Partial::Retry(batch);
    }
    let mut retry = Vec::new();
    for (entry, result) in batch.into_iter().zip(results) {
        match result.error_code() {
            None => {}
            Some(code) if RETRYABLE_ENTRY.contains(&code) => retry.push(entry),
            Some(code) => return Partial::Fatal(code.to_string(), result.error_message().unwrap_or("").to_string()),
        }
    }
    Partial::Retry(retry)
}

impl KinesisClient {
    fn rejected(&self, code: String, message: String) -> SubmitResult<KinesisEntry> {
        let error = KinesisError::Rejected { stream: self.stream.clone(), operation: "PutRecords", code, message };
        SubmitResult::Fatal(error.into())
    }

    fn classify(&self, error: SdkError<PutRecordsError>, batch: Vec<KinesisEntry>) -> SubmitResult<KinesisEntry> {
        match aws::request_failure(&error, RETRYABLE, "PutRecords", &self.stream) {
            RequestFailure::Retry => SubmitResult::Retry(batch),
            RequestFailure::Fatal { code, message } => self.rejected(code, message),
        }
    }
}

impl AsyncSinkClient for KinesisClient {
    type Entry = KinesisEntry;

    fn entry_size(&self, entry: &KinesisEntry) -> usize {
        entry.size()
    }

    async fn submit(&self, batch: Vec<KinesisEntry>) -> SubmitResult<KinesisEntry> {
        let entries = batch.iter().map(|e| {
            PutRecordsRequestEntry::builder().data(Blob::new(e.data.clone())).partition_key(&e.partition_key).build()
        });
        let entries = match entries.collect::<Result<Vec<_>, _>>() {
            Ok(entries) => entries,
            Err(e) => return SubmitResult::fatal_message(format!("cannot build a Kinesis record: {e}")),
        };
        let sent = self.client.put_records().stream_name(&self.stream).set_records(Some(entries)).send().await;
        match sent {
            Ok(output) if output.failed_record_count().unwrap_or(0) == 0 => SubmitResult::Success,
            Ok(output) => match failed_entries(batch, &output) {
                Partial::Retry(failed) => {
                    tracing::debug!(stream = %self.stream, failed = failed.len(), "retrying failed records");
                    SubmitResult::Retry(failed)
                }
                Partial::Fatal(code, message) => self.rejected(code, message),
            },
            Err(error) => self.classify(error, batch),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use aws_sdk_kinesis::types::PutRecordsResultEntry;

    use super::*;

    fn entry(n: u8) -> KinesisEntry {
        KinesisEntry { data: vec![n], partition_key: format!("k{n}") }
    }

    fn output(results: Vec<PutRecordsResultEntry>) -> PutRecordsOutput {
        let failed = results.iter().filter(|r| r.error_code().is_some()).count() as i32;
        PutRecordsOutput::builder().failed_record_count(failed).set_records(Some(results)).build().unwrap()
    }

    #[test]
    fn only_entries_failing_with_a_retryable_code_are_retried() {
        let ok = PutRecordsResultEntry::builder().sequence_number("1").shard_id("s").build();
        let throttled = PutRecordsResultEntry::builder().error_code("ProvisionedThroughputExceededException").build();
        let batch = vec![entry(1), entry(2), entry(3)];
        let failed = failed_entries(batch, &output(vec![ok.clone(), throttled, ok]));
        assert_eq!(failed, Partial::Retry(vec![entry(2)]));
    }

    #[test]
    fn an_entry_failing_for_good_is_fatal_with_its_code() {
        let denied = PutRecordsResultEntry::builder()
            .error_code("KMSAccessDeniedException")
            .error_message("no key for you")
            .build();
        let failed = failed_entries(vec![entry(1)], &output(vec![denied]));
        assert_eq!(failed, Partial::Fatal("KMSAccessDeniedException".into(), "no key for you".into()));
    }
}

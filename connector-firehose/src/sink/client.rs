//! One `PutRecordBatch` per batch: failed entries (`FailedPutCount`) and throttling are
//! retried by the writer, rejections that retrying cannot mend fail it.

use aws_sdk_firehose::error::SdkError;
use aws_sdk_firehose::operation::put_record_batch::{PutRecordBatchError, PutRecordBatchOutput};
use aws_sdk_firehose::primitives::Blob;
use aws_sdk_firehose::types::Record;
use connector_base::async_sink::{AsyncSinkClient, SubmitResult};
use connector_base::aws::{self, RequestFailure};

use crate::error::FirehoseError;
use crate::record::FirehoseRecord;

/// Error codes after which the same request may succeed.
const RETRYABLE: &[&str] =
    &["ServiceUnavailableException", "ThrottlingException", "LimitExceededException", "InternalFailure"];

/// Sends batches to one delivery stream.
pub struct FirehoseClient {
    pub(crate) client: aws_sdk_firehose::Client,
    pub(crate) stream: String,
}

/// The entries whose response carries an error code (the responses are in request
/// order), or all of them when the answer does not say which failed.
pub(crate) fn failed_entries(batch: Vec<FirehoseRecord>, output: &PutRecordBatchOutput) -> Vec<FirehoseRecord> {
    let responses = output.request_responses();
    if responses.len() != batch.len() {
        return batch;
    }
    batch.into_iter().zip(responses).filter(|(_, r)| r.error_code().is_some()).map(|(record, _)| record).collect()
}

impl FirehoseClient {
    fn classify(
        &self,
        error: SdkError<PutRecordBatchError>,
        batch: Vec<FirehoseRecord>,
    ) -> SubmitResult<FirehoseRecord> {
        let (code, message) = match aws::request_failure(&error, RETRYABLE, "PutRecordBatch", &self.stream) {
            RequestFailure::Retry => return SubmitResult::Retry(batch),
            RequestFailure::Fatal { code, message } => (code, message),
        };
        SubmitResult::Fatal(FirehoseError::Rejected { stream: self.stream.clone(), code, message }.into())
    }
}

impl AsyncSinkClient for FirehoseClient {
    type Entry = FirehoseRecord;

    fn entry_size(&self, entry: &FirehoseRecord) -> usize {
        entry.0.len()
    }

    async fn submit(&self, batch: Vec<FirehoseRecord>) -> SubmitResult<FirehoseRecord> {
        let records = batch.iter().map(|r| Record::builder().data(Blob::new(r.0.clone())).build());
        let records = match records.collect::<Result<Vec<_>, _>>() {
            Ok(records) => records,
            Err(e) => return SubmitResult::fatal_message(format!("cannot build a Firehose record: {e}")),
        };
        let sent =
            self.client.put_record_batch().delivery_stream_name(&self.stream).set_records(Some(records)).send().await;
        match sent {
            Ok(output) if output.failed_put_count() == 0 => SubmitResult::Success,
            Ok(output) => {
                let failed = failed_entries(batch, &output);
                tracing::debug!(stream = %self.stream, failed = failed.len(), "retrying failed records");
                SubmitResult::Retry(failed)
            }
            Err(error) => self.classify(error, batch),
        }
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_firehose::types::PutRecordBatchResponseEntry;

    use super::*;

    fn record(n: u8) -> FirehoseRecord {
        FirehoseRecord(vec![n])
    }

    #[test]
    fn only_the_entries_with_an_error_code_are_retried() {
        let ok = PutRecordBatchResponseEntry::builder().record_id("r").build();
        let throttled = PutRecordBatchResponseEntry::builder().error_code("ServiceUnavailableException").build();
        let output = PutRecordBatchOutput::builder()
            .failed_put_count(1)
            .set_request_responses(Some(vec![ok.clone(), throttled, ok]))
            .build();
        let output = output.ok();
        let failed = output.map(|o| failed_entries(vec![record(1), record(2), record(3)], &o));
        assert_eq!(failed, Some(vec![record(2)]));
    }
}

//! One `BatchWriteItem` per batch: unprocessed items and throttling are retried by
//! the writer, rejections that retrying cannot mend fail it.

use std::collections::HashMap;

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::batch_write_item::BatchWriteItemError;
use aws_sdk_dynamodb::types::{DeleteRequest, PutRequest, WriteRequest};
use connector_base::async_sink::{AsyncSinkClient, SubmitResult};
use connector_base::aws::{self, RequestFailure};

use crate::attribute::{Attr, Item, item_to_sdk};
use crate::error::DynamoDbError;
use crate::request::DynamoDbWriteRequest;

/// Error codes after which the same request may succeed.
const RETRYABLE: &[&str] = &[
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "ThrottlingException",
    "InternalServerError",
    "ServiceUnavailable",
    "LimitExceededException",
];

/// Sends batches to one table.
pub struct DynamoDbClient {
    pub(crate) client: aws_sdk_dynamodb::Client,
    pub(crate) table: String,
    pub(crate) overwrite_keys: Option<Vec<String>>,
}

fn to_sdk(request: &DynamoDbWriteRequest) -> Result<WriteRequest, String> {
    let built = match request {
        DynamoDbWriteRequest::Put(item) => PutRequest::builder()
            .set_item(Some(item_to_sdk(item)))
            .build()
            .map(|p| WriteRequest::builder().put_request(p)),
        DynamoDbWriteRequest::Delete(key) => DeleteRequest::builder()
            .set_key(Some(item_to_sdk(key)))
            .build()
            .map(|d| WriteRequest::builder().delete_request(d)),
    };
    built.map(|b| b.build()).map_err(|e| e.to_string())
}

fn from_sdk_item(item: &HashMap<String, aws_sdk_dynamodb::types::AttributeValue>) -> Option<Item> {
    item.iter().map(|(k, v)| Some((k.clone(), Attr::from_sdk(v)?))).collect()
}

/// The requests DynamoDB left unprocessed, in our form.
pub(crate) fn unprocessed(requests: &[WriteRequest]) -> Option<Vec<DynamoDbWriteRequest>> {
    requests
        .iter()
        .map(|r| match (r.put_request(), r.delete_request()) {
            (Some(put), _) => from_sdk_item(put.item()).map(DynamoDbWriteRequest::Put),
            (None, Some(delete)) => from_sdk_item(delete.key()).map(DynamoDbWriteRequest::Delete),
            (None, None) => None,
        })
        .collect()
}

/// The newest request per key: `BatchWriteItem` refuses a batch naming a key twice.
/// Requests missing a key attribute are kept (DynamoDB then names the problem).
pub(crate) fn newest_per_key(batch: Vec<DynamoDbWriteRequest>, keys: &[String]) -> Vec<DynamoDbWriteRequest> {
    let mut position: HashMap<Vec<&Attr>, usize> = HashMap::new();
    let mut keep = vec![true; batch.len()];
    for (i, request) in batch.iter().enumerate() {
        let attributes = request.attributes();
        let key: Option<Vec<&Attr>> = keys.iter().map(|k| attributes.get(k)).collect();
        if let Some(key) = key
            && let Some(older) = position.insert(key, i)
        {
            keep[older] = false;
        }
    }
    batch.into_iter().zip(keep).filter_map(|(r, k)| k.then_some(r)).collect()
}

impl DynamoDbClient {
    fn classify(
        &self,
        error: SdkError<BatchWriteItemError>,
        batch: Vec<DynamoDbWriteRequest>,
    ) -> SubmitResult<DynamoDbWriteRequest> {
        let (code, message) = match aws::request_failure(&error, RETRYABLE, "BatchWriteItem", &self.table) {
            RequestFailure::Retry => return SubmitResult::Retry(batch),
            RequestFailure::Fatal { code, message } => (code, message),
        };
        // A table deleted while the job runs is named by its code (ResourceNotFoundException).
        SubmitResult::Fatal(DynamoDbError::Rejected { table: self.table.clone(), code, message }.into())
    }
}

impl AsyncSinkClient for DynamoDbClient {
    type Entry = DynamoDbWriteRequest;

    fn entry_size(&self, entry: &DynamoDbWriteRequest) -> usize {
        entry.size()
    }

    async fn submit(&self, batch: Vec<DynamoDbWriteRequest>) -> SubmitResult<DynamoDbWriteRequest> {
        let batch = match &self.overwrite_keys {
            Some(keys) => newest_per_key(batch, keys),
            None => batch,
        };
        let requests = match batch.iter().map(to_sdk).collect::<Result<Vec<_>, _>>() {
            Ok(requests) => requests,
            Err(e) => return SubmitResult::fatal_message(format!("cannot build a DynamoDB write request: {e}")),
        };
        match self.client.batch_write_item().request_items(&self.table, requests).send().await {
            Ok(output) => {
                let left =
                    output.unprocessed_items().and_then(|m| m.get(&self.table)).map(Vec::as_slice).unwrap_or(&[]);
                if left.is_empty() {
                    return SubmitResult::Success;
                }
                match unprocessed(left) {
                    Some(retry) => {
                        tracing::debug!(table = %self.table, unprocessed = retry.len(), "retrying unprocessed items");
                        SubmitResult::Retry(retry)
                    }
                    None => SubmitResult::Retry(batch),
                }
            }
            Err(error) => self.classify(error, batch),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(pk: &str, v: &str) -> DynamoDbWriteRequest {
        let mut item = Item::new();
        item.insert("pk".into(), Attr::S(pk.into()));
        item.insert("v".into(), Attr::S(v.into()));
        DynamoDbWriteRequest::Put(item)
    }

    #[test]
    fn the_newest_request_per_key_is_kept_in_order() {
        let batch = vec![put("a", "1"), put("b", "1"), put("a", "2"), put("c", "1"), put("b", "2")];
        let kept = newest_per_key(batch, &["pk".to_string()]);
        assert_eq!(kept, vec![put("a", "2"), put("c", "1"), put("b", "2")]);
    }

    #[test]
    fn unprocessed_items_come_back_as_the_same_requests() {
        let sent = [put("a", "1"), put("b", "2")];
        let sdk: Vec<WriteRequest> = sent.iter().filter_map(|r| to_sdk(r).ok()).collect();
        assert_eq!(unprocessed(&sdk[1..]), Some(vec![put("b", "2")]));
    }
}

//! One bulk request per batch: the answer is read item by item; what may succeed
//! later is sent again (up to `max_retries_per_action` times each), what was written
//! before counts as written, and what the server refuses for good goes to the
//! failure policy.

use connector_base::async_sink::{AsyncSinkClient, SubmitResult};
use stream_core::StreamError;

use crate::action::Action;
use crate::error::SearchError;
use crate::policy::{FailurePolicy, RejectedAction};
use crate::response::{BulkAnswer, BulkSummary, Outcome, classify};
use crate::transport::{Backend, Body, BulkTransport, HttpAnswer, Method};

/// Sends the batches of one writer subtask.
pub struct BulkClient<B: Backend> {
    pub(crate) transport: B::Transport,
    pub(crate) policy: FailurePolicy,
    pub(crate) max_retries: u32,
}

/// The `reason` of an error answer's body (`{"error":{"reason":..}}`), or its start.
fn reason_of(body: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct Answer {
        error: Option<serde_json::Value>,
    }
    let from_json = serde_json::from_slice::<Answer>(body).ok().and_then(|a| a.error).map(|e| match e {
        serde_json::Value::Object(o) => o
            .get("reason")
            .and_then(|r| r.as_str())
            .map(str::to_string)
            .unwrap_or_else(|| serde_json::Value::Object(o).to_string()),
        other => other.to_string(),
    });
    from_json.unwrap_or_else(|| String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned())
}

impl<B: Backend> BulkClient<B> {
    /// `batch` sent again, each action's failures counted; fatal once one ran out of
    /// retries.
    fn again(&self, batch: Vec<Action>, status: u16, reason: &str) -> SubmitResult<Action> {
        let mut retry = Vec::with_capacity(batch.len());
        for mut action in batch {
            action.failures += 1;
            if action.failures > self.max_retries {
                return SubmitResult::Fatal(
                    SearchError::RetriesExhausted {
                        system: B::SYSTEM,
                        action: action.describe(),
                        failures: action.failures,
                        status,
                        reason: reason.to_string(),
                    }
                    .into(),
                );
            }
            retry.push(action);
        }
        SubmitResult::Retry(retry)
    }

    /// A refused action, by policy: `Err` with the job's error when it fails.
    fn refused(&self, action: Action, status: u16, error_type: String, reason: String) -> Result<(), StreamError> {
        match &self.policy {
            FailurePolicy::Fail => {
                Err(SearchError::Rejected { system: B::SYSTEM, action: action.describe(), status, error_type, reason }
                    .into())
            }
            FailurePolicy::DropAndCount => {
                metrics::counter!("search_sink_actions_dropped_total").increment(1);
                tracing::warn!(action = %action.describe(), status, %error_type, %reason, "action refused; dropped by policy");
                Ok(())
            }
            FailurePolicy::Handle(handler) => {
                metrics::counter!("search_sink_actions_dropped_total").increment(1);
                handler(RejectedAction { action, status, error_type, reason });
                Ok(())
            }
        }
    }

    /// The batch's fate from a 200 answer.
    fn items(&self, batch: Vec<Action>, body: &[u8]) -> SubmitResult<Action> {
        let bad = |reason: String| SubmitResult::Fatal(SearchError::BadAnswer { system: B::SYSTEM, reason }.into());
        match serde_json::from_slice::<BulkSummary>(body) {
            Ok(summary) if !summary.errors => return SubmitResult::Success,
            Ok(_) => {}
            Err(e) => return bad(e.to_string()),
        }
        let answer: BulkAnswer = match serde_json::from_slice(body) {
            Ok(answer) => answer,
            Err(e) => return bad(e.to_string()),
        };
        if answer.items.len() != batch.len() {
            return bad(format!("{} items for {} actions", answer.items.len(), batch.len()));
        }
        let mut retry = Vec::new();
        let mut last_retry = (0, String::new());
        for (action, item) in batch.into_iter().zip(answer.items) {
            let Some(item) = item.into_values().next() else { return bad("an empty item".into()) };
            match classify(&action, &item) {
                Outcome::Written => {}
                Outcome::AlreadyWritten => {
                    metrics::counter!("search_sink_actions_already_written_total").increment(1);
                }
                Outcome::Retry { status, reason } => {
                    last_retry = (status, reason);
                    retry.push(action);
                }
                Outcome::Refused { status, error_type, reason } => {
                    if let Err(fatal) = self.refused(action, status, error_type, reason) {
                        return SubmitResult::Fatal(fatal);
                    }
                }
            }
        }
        if retry.is_empty() {
            return SubmitResult::Success;
        }
        tracing::debug!(retry = retry.len(), status = last_retry.0, reason = %last_retry.1, "bulk items to send again");
        self.again(retry, last_retry.0, &last_retry.1)
    }

    /// The batch's fate from the answer to the whole request.
    fn answered(&self, batch: Vec<Action>, answer: HttpAnswer) -> SubmitResult<Action> {
        let refused = |hint: &'static str| {
            let reason = reason_of(&answer.body);
            SubmitResult::Fatal(
                SearchError::RequestRefused { system: B::SYSTEM, status: answer.status, reason, hint }.into(),
            )
        };
        match answer.status {
            200 => self.items(batch, &answer.body),
            429 | 500..=599 => self.again(batch, answer.status, &reason_of(&answer.body)),
            401 | 403 => refused("; check the credentials and their privileges on the index"),
            413 => refused("; the request is larger than the cluster takes: lower max_batch_size_in_bytes"),
            _ => refused(""),
        }
    }
}

impl<B: Backend> AsyncSinkClient for BulkClient<B> {
    type Entry = Action;

    fn entry_size(&self, action: &Action) -> usize {
        action.ndjson_len()
    }

    async fn submit(&self, batch: Vec<Action>) -> SubmitResult<Action> {
        let mut body = Vec::with_capacity(batch.iter().map(|a| 128 + a.document.as_ref().map_or(0, Vec::len)).sum());
        for action in &batch {
            action.write_ndjson(&mut body);
        }
        match self.transport.send(Method::Post, "/_bulk", Some(Body::ndjson(body))).await {
            Ok(answer) => self.answered(batch, answer),
            Err(failure) => {
                tracing::debug!(%failure, actions = batch.len(), "bulk request failed on the way; sending it again");
                SubmitResult::Retry(batch)
            }
        }
    }
}

//! What happens to an action the server refuses for good (a mapping error, a bad
//! document): fail the job, drop it and count, or hand it on.

use std::sync::Arc;

use crate::action::{Action, Operation};

/// An action the server refused, as handed to [`FailurePolicy::Handle`].
#[derive(Debug, Clone)]
pub struct RejectedAction {
    /// The action as sent (its document included).
    pub action: Action,
    /// The item's HTTP status (400 for a mapping error, 404 for a missing index or
    /// document, ...).
    pub status: u16,
    /// The server's error type (`mapper_parsing_exception`, `index_not_found_exception`, ...).
    pub error_type: String,
    /// The server's reason.
    pub reason: String,
}

impl RejectedAction {
    /// What it did.
    pub fn operation(&self) -> Operation {
        self.action.operation()
    }
}

/// A handler of refused actions (a dead-letter writer, say).
pub type RejectedHandler = Arc<dyn Fn(RejectedAction) + Send + Sync>;

/// What to do with an action the server refuses for good (any 4xx but 409 on a
/// deterministic id, and 429). Retryable failures (429, 5xx) are retried either way.
#[derive(Clone, Default)]
pub enum FailurePolicy {
    /// Fail the job with an error naming the index, id, status and reason (default).
    #[default]
    Fail,
    /// Drop it, counted in `search_sink_actions_dropped_total` and logged at `warn`.
    DropAndCount,
    /// Hand it to a function (a dead-letter sink, a side output), counted like
    /// `DropAndCount`.
    Handle(RejectedHandler),
}

impl FailurePolicy {
    /// Hand refused actions to `handler`.
    pub fn handle(handler: impl Fn(RejectedAction) + Send + Sync + 'static) -> FailurePolicy {
        FailurePolicy::Handle(Arc::new(handler))
    }
}

impl std::fmt::Debug for FailurePolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FailurePolicy::Fail => "Fail",
            FailurePolicy::DropAndCount => "DropAndCount",
            FailurePolicy::Handle(_) => "Handle(..)",
        })
    }
}

//! The errors of the bulk sinks (wrapped in `StreamError::Connector` at the API
//! boundary).

use std::time::Duration;

use stream_core::StreamError;

/// What can go wrong writing to Elasticsearch or OpenSearch.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SearchError {
    /// A document could not be turned into JSON.
    #[error("the document is not valid JSON: {0} (check the emitter)")]
    Document(#[source] serde_json::Error),

    /// A document is JSON but not an object.
    #[error("the document must be a JSON object (check the emitter)")]
    NotAnObject,

    /// The server refused an action, and the failure policy is to fail.
    #[error(
        "{system} refused the {action}: {status} {error_type}: {reason} (fix the document or the index mapping, or set \
         a failure_policy that drops or hands such actions on)"
    )]
    Rejected {
        /// Elasticsearch or OpenSearch.
        system: &'static str,
        /// What was refused (operation, index, id).
        action: String,
        /// The item's HTTP status.
        status: u16,
        /// The server's error type (`mapper_parsing_exception`, ...).
        error_type: String,
        /// The server's reason.
        reason: String,
    },

    /// An action kept failing in a retryable way (429, 5xx).
    #[error(
        "{system} kept refusing the {action} ({failures} times, last: {status} {reason}); raise \
         max_retries_per_action if the cluster is only busy"
    )]
    RetriesExhausted {
        /// Elasticsearch or OpenSearch.
        system: &'static str,
        /// What kept failing.
        action: String,
        /// How often.
        failures: u32,
        /// The last status.
        status: u16,
        /// The last reason.
        reason: String,
    },

    /// The server refused a whole bulk request.
    #[error("{system} refused a bulk request: {status} {reason}{hint}")]
    RequestRefused {
        /// Elasticsearch or OpenSearch.
        system: &'static str,
        /// The HTTP status.
        status: u16,
        /// The server's reason, from its answer.
        reason: String,
        /// What to do.
        hint: &'static str,
    },

    /// The server's answer could not be read.
    #[error("{system}'s bulk answer could not be read: {reason}")]
    BadAnswer {
        /// Elasticsearch or OpenSearch.
        system: &'static str,
        /// What was wrong.
        reason: String,
    },

    /// The client could not be made from the options.
    #[error("cannot make the {system} client: {reason}")]
    Client {
        /// Elasticsearch or OpenSearch.
        system: &'static str,
        /// The client's message.
        reason: String,
    },

    /// The cluster did not answer, or refused the credentials, at start.
    #[error("{system} at {hosts} {problem}")]
    Unavailable {
        /// Elasticsearch or OpenSearch.
        system: &'static str,
        /// The hosts (without credentials).
        hosts: String,
        /// What happened, and what to do.
        problem: String,
    },

    /// The cluster did not answer at start within `connect_timeout`.
    #[error(
        "{system} at {hosts} did not answer within {timeout:?} (connect_timeout): {last}; check the hosts and that \
         the cluster runs"
    )]
    Unreachable {
        /// Elasticsearch or OpenSearch.
        system: &'static str,
        /// The hosts (without credentials).
        hosts: String,
        /// The sink's `connect_timeout`.
        timeout: Duration,
        /// The last failure.
        last: String,
    },
}

impl From<SearchError> for StreamError {
    fn from(e: SearchError) -> Self {
        StreamError::connector(e)
    }
}

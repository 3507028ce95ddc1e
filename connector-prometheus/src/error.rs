//! The connector's errors (wrapped in `StreamError::Connector` at the API boundary).

use stream_core::StreamError;

/// What can go wrong writing to Prometheus.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PrometheusError {
    /// A time series is not valid (a name, a label, its samples).
    #[error("bad time series {series}: {reason}")]
    BadSeries {
        /// The series as far as it was built.
        series: String,
        /// What is wrong.
        reason: String,
    },

    /// The endpoint could not be reached or refused the writer at start.
    #[error(
        "cannot write to Prometheus at {url}: {reason} (check the URL, that the server takes remote writes, and the credentials)"
    )]
    Endpoint {
        /// The remote-write URL.
        url: String,
        /// What happened.
        reason: String,
    },

    /// The HTTP client could not be made.
    #[error("cannot make the HTTP client: {0}")]
    Client(#[source] reqwest::Error),
}

impl From<PrometheusError> for StreamError {
    fn from(e: PrometheusError) -> Self {
        StreamError::connector(e)
    }
}

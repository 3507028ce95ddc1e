//! The connector's errors (wrapped in `StreamError::Connector` at the API boundary).

use stream_core::StreamError;

/// What can go wrong talking to PostgreSQL.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JdbcError {
    /// The connection string does not parse.
    #[error("bad PostgreSQL connection string {url}: {source} (expected postgres://user:password@host:port/database)")]
    BadUrl {
        /// The connection string without its password.
        url: String,
        /// The driver's error.
        #[source]
        source: tokio_postgres::Error,
    },

    /// No server answered, or it refused the login.
    #[error("cannot connect to PostgreSQL at {url}: {source}{} (check that the server answers and the credentials)", detail(.source))]
    Connect {
        /// The connection string without its password.
        url: String,
        /// The driver's error.
        #[source]
        source: tokio_postgres::Error,
    },

    /// The root certificates to trust cannot be read.
    #[error("cannot use the root certificates of {path}: {reason} (expected a PEM file of CA certificates)")]
    Certificates {
        /// The PEM file.
        path: std::path::PathBuf,
        /// What is wrong.
        reason: String,
    },

    /// A statement failed.
    #[error("{what} failed: {source}{}", detail(.source))]
    Statement {
        /// What was being done.
        what: String,
        /// The driver's error.
        #[source]
        source: tokio_postgres::Error,
    },

    /// The server did not answer within the operation timeout.
    #[error(
        "{what} got no answer within {after:?} (operation_timeout): the session is given up; \
         raise operation_timeout if the server is slow rather than unreachable"
    )]
    Timeout {
        /// What was being done.
        what: String,
        /// The timeout.
        after: std::time::Duration,
    },

    /// The server does not allow prepared transactions.
    #[error(
        "the server allows no prepared transactions (max_prepared_transactions = {0}): \
         exactly-once needs them; set max_prepared_transactions to at least the sink's \
         parallelism in postgresql.conf and restart the server"
    )]
    NoPreparedTransactions(i64),

    /// A transaction to commit is neither prepared nor marked as committed: what it
    /// held is lost (rolled back by someone else, or the server lost it).
    #[error(
        "transaction {gid} is neither prepared nor committed (no marker row in {table}): \
         its rows are lost; was it rolled back by hand, or another job using the same \
         transaction prefix?"
    )]
    Lost {
        /// The transaction id.
        gid: String,
        /// The marker table.
        table: String,
    },

    /// The source's query cannot be read as asked (its key column is missing or of
    /// a type it cannot page by).
    #[error("the source query `{query}`: {reason}")]
    Source {
        /// The query.
        query: String,
        /// What is wrong.
        reason: String,
    },

    /// An option is not valid.
    #[error("{0}")]
    Invalid(String),
}

/// Wraps a failed statement's error, saying what it was doing.
pub(crate) fn failed(what: impl Into<String>) -> impl FnOnce(tokio_postgres::Error) -> JdbcError {
    let what = what.into();
    move |source| JdbcError::Statement { what, source }
}

/// Whether `error` may pass on a new try, on a new session when this one is gone: the
/// connection was lost or refused (the server is down or restarting), the server is
/// shutting down, or the transaction lost a serialization race or a deadlock. A
/// statement the server refused, a bad login or a parameter that does not serialize
/// fail the same way every time.
pub(crate) fn worth_trying_again(error: &tokio_postgres::Error) -> bool {
    use tokio_postgres::error::SqlState;
    if let Some(db) = error.as_db_error() {
        let code = db.code();
        return code.code().starts_with("08")
            || [
                SqlState::ADMIN_SHUTDOWN,
                SqlState::CRASH_SHUTDOWN,
                SqlState::CANNOT_CONNECT_NOW,
                SqlState::TOO_MANY_CONNECTIONS,
                SqlState::T_R_SERIALIZATION_FAILURE,
                SqlState::T_R_DEADLOCK_DETECTED,
            ]
            .contains(code);
    }
    error.is_closed() || std::error::Error::source(error).is_some_and(|cause| cause.is::<std::io::Error>())
}

/// Whether a [`JdbcError`] may pass on a new try (see [`worth_trying_again`]).
pub(crate) fn transient(error: &JdbcError) -> bool {
    match error {
        JdbcError::Connect { source, .. } | JdbcError::Statement { source, .. } => worth_trying_again(source),
        JdbcError::Timeout { .. } => true,
        _ => false,
    }
}

/// What tokio-postgres's own text leaves out: a server error's message and SQLSTATE
/// (its text is only `db error`), or the cause of a client-side one (`error
/// serializing parameter 0` says nothing of the types).
fn detail(error: &tokio_postgres::Error) -> String {
    match (error.as_db_error(), std::error::Error::source(error)) {
        (Some(db), _) => format!(": {} (SQLSTATE {})", db.message(), db.code().code()),
        (None, Some(cause)) => format!(": {cause}"),
        (None, None) => String::new(),
    }
}

impl From<JdbcError> for StreamError {
    fn from(e: JdbcError) -> Self {
        StreamError::connector(e)
    }
}

//! The connector's errors (wrapped in `StreamError::Connector` at the API boundary).

use stream_core::StreamError;

/// What can go wrong talking to PostgreSQL.
#[derive(Debug, thiserror::Error)]
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
    #[error("cannot connect to PostgreSQL at {url}: {source} (check that the server answers and the credentials)")]
    Connect {
        /// The connection string without its password.
        url: String,
        /// The driver's error.
        #[source]
        source: tokio_postgres::Error,
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

    /// An option is not valid.
    #[error("{0}")]
    Invalid(String),
}

/// Wraps a failed statement's error, saying what it was doing.
pub(crate) fn failed(what: impl Into<String>) -> impl FnOnce(tokio_postgres::Error) -> JdbcError {
    let what = what.into();
    move |source| JdbcError::Statement { what, source }
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

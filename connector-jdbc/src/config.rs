//! The public sink type, its builder and the validation of every option.

use std::sync::Arc;

use connector_base::DeliveryGuarantee;
use stream_core::retry::RetryPolicy;
use stream_core::{Result, StreamError};
use tokio_postgres::types::ToSql;

use crate::connection::PgConnection;
use crate::gid::Gid;

/// The parameters of one row, in the statement's order (`$1`, `$2`, ...); build them
/// with [`params!`](crate::params).
pub type Params = Vec<Box<dyn ToSql + Send + Sync>>;

/// Turns a record into its row's parameters.
pub(crate) type Bind<T> = Arc<dyn Fn(&T) -> Params + Send + Sync>;

/// The parameters of one row: `params![order.id, order.total]`.
#[macro_export]
macro_rules! params {
    ($($value:expr),* $(,)?) => {
        vec![$(Box::new($value) as Box<dyn $crate::tokio_postgres::types::ToSql + Send + Sync>),*]
    };
}

/// Writes records to PostgreSQL with one SQL statement per record, in batches.
/// At-least-once: a batch is one transaction, sent again whole after a failure, and
/// every checkpoint waits for the batches before it (an upsert with values from the
/// record makes a replay harmless). Exactly-once: one prepared transaction per
/// checkpoint and subtask, committed once the checkpoint completes. Build with
/// [`JdbcSinkBuilder::new`].
pub struct JdbcSink<T> {
    pub(crate) connection: PgConnection,
    pub(crate) statement: String,
    pub(crate) bind: Bind<T>,
    pub(crate) guarantee: DeliveryGuarantee,
    pub(crate) batch_size: usize,
    pub(crate) transaction_prefix: Option<String>,
    pub(crate) marker_table: String,
    pub(crate) retry: RetryPolicy,
}

impl<T> std::fmt::Debug for JdbcSink<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JdbcSink")
            .field("connection", &self.connection)
            .field("statement", &self.statement)
            .field("guarantee", &self.guarantee)
            .field("batch_size", &self.batch_size)
            .finish_non_exhaustive()
    }
}

/// Builder of [`JdbcSink`].
pub struct JdbcSinkBuilder<T> {
    sink: JdbcSink<T>,
}

impl<T> JdbcSinkBuilder<T> {
    /// Run `statement` (`INSERT ... VALUES ($1, $2)`, an upsert, any DML) once per
    /// record, with the parameters `bind` makes of it.
    pub fn new(
        connection: PgConnection,
        statement: impl Into<String>,
        bind: impl Fn(&T) -> Params + Send + Sync + 'static,
    ) -> Self {
        JdbcSinkBuilder {
            sink: JdbcSink {
                connection,
                statement: statement.into(),
                bind: Arc::new(bind),
                guarantee: DeliveryGuarantee::AtLeastOnce,
                batch_size: 5_000,
                transaction_prefix: None,
                marker_table: "flink_connectors_rs_jdbc_markers".into(),
                retry: RetryPolicy::exponential(
                    std::time::Duration::from_millis(100),
                    std::time::Duration::from_secs(2),
                )
                .give_up_after(std::time::Duration::from_secs(60)),
            },
        }
    }

    /// At-least-once (default) or exactly-once (two-phase commit; needs
    /// [`JdbcSinkBuilder::transaction_prefix`] and a server that allows prepared
    /// transactions).
    pub fn delivery_guarantee(mut self, guarantee: DeliveryGuarantee) -> Self {
        self.sink.guarantee = guarantee;
        self
    }

    /// Rows sent at once (default 5 000, Flink's); a checkpoint sends what is left.
    pub fn batch_size(mut self, rows: usize) -> Self {
        self.sink.batch_size = rows;
        self
    }

    /// Exactly-once: the prefix of this sink's transaction ids, the same on every
    /// restart of the job and different from every other sink's on the database.
    pub fn transaction_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.sink.transaction_prefix = Some(prefix.into());
        self
    }

    /// Exactly-once: the table of marker rows (default
    /// `flink_connectors_rs_jdbc_markers`, made if missing).
    pub fn marker_table(mut self, table: impl Into<String>) -> Self {
        self.sink.marker_table = table.into();
        self
    }

    /// How a failed batch is sent again (at-least-once; default from 100 ms doubling
    /// to 2 s, for 60 s).
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.sink.retry = policy;
        self
    }

    /// Validate and build; the error names the bad option and value.
    pub fn build(self) -> Result<JdbcSink<T>> {
        let sink = self.sink;
        sink.connection.validate()?;
        sink.retry.validate("retry")?;
        if sink.statement.trim().is_empty() {
            return Err(StreamError::invalid("statement", "", "a SQL statement"));
        }
        if sink.batch_size == 0 {
            return Err(StreamError::invalid("batch_size", 0, "at least 1"));
        }
        let plain_name =
            |name: &str| !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
        if !plain_name(&sink.marker_table) {
            return Err(StreamError::invalid("marker_table", &sink.marker_table, "letters, digits, _ and ."));
        }
        match (&sink.guarantee, &sink.transaction_prefix) {
            (DeliveryGuarantee::ExactlyOnce, None) => {
                return Err(StreamError::invalid(
                    "transaction_prefix",
                    "(none)",
                    "exactly-once needs a prefix that names this sink's transactions",
                ));
            }
            (_, Some(prefix)) => Gid::check_prefix(prefix)?,
            _ => {}
        }
        Ok(sink)
    }
}

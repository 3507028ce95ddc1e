//! The public sink type, its builder and the validation of every option.

use std::sync::Arc;

use connector_base::DeliveryGuarantee;
use connector_base::schema::BadRecordPolicy;
use stream_core::retry::RetryPolicy;
use stream_core::{Result, StreamError};
use tokio_postgres::Row;
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
    pub(crate) batch_interval: std::time::Duration,
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
            .field("batch_interval", &self.batch_interval)
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
                batch_interval: std::time::Duration::from_secs(1),
                transaction_prefix: None,
                marker_table: "flink_connectors_rs_jdbc_markers".into(),
                retry: default_retry(),
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

    /// A batch is also sent once its first row has waited this long (default 1 s;
    /// `Duration::ZERO`: only when full and at checkpoints). It is checked as
    /// records arrive: when none arrives, the next checkpoint (or the end of input)
    /// sends what waits. Under at-least-once this bounds how late rows become
    /// visible; under exactly-once rows become visible at the checkpoint's commit
    /// anyway, and this only spreads the sending.
    pub fn batch_interval(mut self, interval: std::time::Duration) -> Self {
        self.sink.batch_interval = interval;
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

    /// How work that failed in a way that can pass (a lost session, a server
    /// restarting, a serialization failure) is tried again on a healthy session: a
    /// batch, a prepare, a commit (default from 100 ms doubling to 2 s, for 60 s;
    /// then the job fails and its restart strategy decides).
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
        if !plain_name(&sink.marker_table, true) {
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

/// From 100 ms doubling to 2 s, for 60 s.
fn default_retry() -> RetryPolicy {
    RetryPolicy::exponential(std::time::Duration::from_millis(100), std::time::Duration::from_secs(2))
        .give_up_after(std::time::Duration::from_secs(60))
}

/// An unquoted SQL name: letters, digits and `_` (and `.` between a schema and a
/// table when `dotted`).
fn plain_name(name: &str, dotted: bool) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || (dotted && c == '.'))
}

/// Turns a row into a record; `Err` says why it cannot.
pub(crate) type DecodeRow<T> = Arc<dyn Fn(&Row) -> std::result::Result<T, String> + Send + Sync>;

/// Reads the rows of a query once (bounded), split into ranges of a key column over
/// the subtasks. Each split is read in key order, a page at a time (keyset
/// pagination: `key > last ORDER BY key LIMIT page_size`), and keeps the last key it
/// emitted in the checkpoint, so a restore neither reads a row twice nor skips one.
/// Exactly-once. Build with [`JdbcSourceBuilder::new`].
///
/// Each page is a query of its own: a table written while it is read is seen as one
/// snapshot per page, not one snapshot for the whole read (a row inserted behind a
/// split's position is not read; one inserted ahead of it is).
pub struct JdbcSource<T> {
    pub(crate) connection: PgConnection,
    pub(crate) query: String,
    pub(crate) key_column: String,
    pub(crate) splits: Option<usize>,
    pub(crate) page_size: u32,
    pub(crate) decode: DecodeRow<T>,
    pub(crate) bad_records: BadRecordPolicy,
    pub(crate) retry: RetryPolicy,
}

impl<T> std::fmt::Debug for JdbcSource<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JdbcSource")
            .field("connection", &self.connection)
            .field("query", &self.query)
            .field("key_column", &self.key_column)
            .field("page_size", &self.page_size)
            .finish_non_exhaustive()
    }
}

/// Builder of [`JdbcSource`].
pub struct JdbcSourceBuilder<T> {
    source: JdbcSource<T>,
}

impl<T: Send + 'static> JdbcSourceBuilder<T> {
    /// Read the rows of `query` (`SELECT id, item FROM orders WHERE ...`, or a table
    /// name), split and paged by `key_column`, one of its columns: an integer
    /// (`smallint`, `integer`, `bigint`: split into ranges between its lowest and
    /// highest value) or text (`text`, `varchar`: read as one split). The key must
    /// be unique and not null: rows with a null key are not read, and rows sharing
    /// a key across a page boundary would be skipped. `decode` turns a row into a
    /// record (`row.try_get("item")`).
    pub fn new<E: std::fmt::Display>(
        connection: PgConnection,
        query: impl Into<String>,
        key_column: impl Into<String>,
        decode: impl Fn(&Row) -> std::result::Result<T, E> + Send + Sync + 'static,
    ) -> Self {
        let query = query.into();
        // A bare table name reads the whole table.
        let query = if plain_name(query.trim(), true) { format!("SELECT * FROM {}", query.trim()) } else { query };
        JdbcSourceBuilder {
            source: JdbcSource {
                connection,
                query,
                key_column: key_column.into(),
                splits: None,
                page_size: 1_000,
                decode: Arc::new(move |row| decode(row).map_err(|e| e.to_string())),
                bad_records: BadRecordPolicy::Fail,
                retry: default_retry(),
            },
        }
    }

    /// Key ranges to cut an integer key into (default 4 per subtask).
    pub fn splits(mut self, splits: usize) -> Self {
        self.source.splits = Some(splits);
        self
    }

    /// Rows per page (default 1 000); the position is kept per page.
    pub fn page_size(mut self, rows: u32) -> Self {
        self.source.page_size = rows;
        self
    }

    /// What to do with a row that does not decode: fail (default), skip and count,
    /// or a side output (given the row's key as text).
    pub fn bad_records(mut self, policy: BadRecordPolicy) -> Self {
        self.source.bad_records = policy;
        self
    }

    /// How a page is read again after a lost connection or a transient server error,
    /// on a new session, after the split's position (default: from 100 ms doubling
    /// to 2 s, for up to 60 s; then the job fails and its restart strategy decides).
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.source.retry = policy;
        self
    }

    /// Validate and build; the error names the bad option and value.
    pub fn build(self) -> Result<JdbcSource<T>> {
        let source = self.source;
        source.connection.validate()?;
        source.retry.validate("retry")?;
        if source.query.trim().is_empty() {
            return Err(StreamError::invalid("query", "", "a SELECT statement or a table name"));
        }
        if !plain_name(&source.key_column, false) {
            return Err(StreamError::invalid("key_column", &source.key_column, "a column name: letters, digits and _"));
        }
        if source.page_size == 0 {
            return Err(StreamError::invalid("page_size", 0, "at least 1"));
        }
        if source.splits == Some(0) {
            return Err(StreamError::invalid("splits", 0, "at least 1"));
        }
        Ok(source)
    }
}

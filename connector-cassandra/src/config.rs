//! The public sink type, its builder and the validation of every option.

use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use connector_base::DeliveryGuarantee;
use connector_base::schema::BadRecordPolicy;
use scylla::serialize::row::SerializeRow;
use scylla::statement::{Consistency, SerialConsistency};
use stream_core::{Result, StreamError};

use crate::session::Connection;
use crate::source::query::SplittableQuery;
use crate::statement::{is_write, not_idempotent};

/// A record's write time, in microseconds since the Unix epoch.
pub(crate) type Timestamp<T> = Arc<dyn Fn(&T) -> i64 + Send + Sync>;

/// Writes each record with one prepared CQL statement, its bind markers filled from
/// the record (`SerializeRow`: a tuple, or a struct with `#[derive(SerializeRow)]`).
/// At-least-once: the checkpoint waits for every write. Build with
/// [`CassandraSink::builder`].
pub struct CassandraSink<T> {
    pub(crate) connection: Connection,
    pub(crate) statement: String,
    pub(crate) consistency: Consistency,
    pub(crate) serial_consistency: Option<SerialConsistency>,
    pub(crate) timestamp: Option<Timestamp<T>>,
    pub(crate) failed_writes: BadRecordPolicy,
    pub(crate) write_ahead: Option<WriteAhead>,
    pub(crate) idempotent: bool,
    pub(crate) guarantee: DeliveryGuarantee,
    pub(crate) max_concurrent_requests: usize,
    pub(crate) request_timeout: Duration,
    pub(crate) retry_timeout: Duration,
    pub(crate) _record: PhantomData<fn(T)>,
}

impl<T> std::fmt::Debug for CassandraSink<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CassandraSink")
            .field("contact_points", &self.connection.contact_points)
            .field("statement", &self.statement)
            .field("guarantee", &self.guarantee)
            .field("max_concurrent_requests", &self.max_concurrent_requests)
            .field("write_ahead", &self.write_ahead)
            .finish_non_exhaustive()
    }
}

impl<T: SerializeRow + Send + Sync + 'static> CassandraSink<T> {
    /// Write each record with `statement` (an INSERT, UPDATE or DELETE with `?`
    /// markers) through the nodes `contact_points` (`host:port`).
    pub fn builder(
        contact_points: impl IntoIterator<Item = impl Into<String>>,
        statement: impl Into<String>,
    ) -> CassandraSinkBuilder<T> {
        CassandraSinkBuilder {
            contact_points: contact_points.into_iter().map(Into::into).collect(),
            statement: statement.into(),
            consistency: Consistency::LocalQuorum,
            serial_consistency: None,
            timestamp: None,
            failed_writes: BadRecordPolicy::Fail,
            write_ahead: None,
            idempotent: None,
            guarantee: DeliveryGuarantee::AtLeastOnce,
            max_concurrent_requests: 64,
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(12),
            retry_timeout: Duration::from_secs(60),
            cluster_metadata: true,
            _record: PhantomData,
        }
    }
}

/// Builder of [`CassandraSink`].
pub struct CassandraSinkBuilder<T> {
    contact_points: Vec<String>,
    statement: String,
    consistency: Consistency,
    serial_consistency: Option<SerialConsistency>,
    timestamp: Option<Timestamp<T>>,
    failed_writes: BadRecordPolicy,
    write_ahead: Option<WriteAhead>,
    idempotent: Option<bool>,
    guarantee: DeliveryGuarantee,
    max_concurrent_requests: usize,
    connect_timeout: Duration,
    request_timeout: Duration,
    retry_timeout: Duration,
    cluster_metadata: bool,
    _record: PhantomData<fn(T)>,
}

impl<T: SerializeRow + Send + Sync + 'static> CassandraSinkBuilder<T> {
    /// The consistency level of each write (default `LOCAL_QUORUM`).
    pub fn consistency(mut self, consistency: Consistency) -> Self {
        self.consistency = consistency;
        self
    }

    /// The serial consistency of a lightweight transaction (`IF ...`; default: the
    /// driver's, `LOCAL_SERIAL`).
    pub fn serial_consistency(mut self, serial_consistency: SerialConsistency) -> Self {
        self.serial_consistency = Some(serial_consistency);
        self
    }

    /// Write each record with this write time (`USING TIMESTAMP`, microseconds since
    /// the Unix epoch) taken from the record: a replay then cannot overwrite a newer
    /// write of the same cell, and of two writes the later in record time wins.
    pub fn timestamp(mut self, timestamp: impl Fn(&T) -> i64 + Send + Sync + 'static) -> Self {
        self.timestamp = Some(Arc::new(timestamp));
        self
    }

    /// What to do with a record the server refuses for its values (they do not fit
    /// the statement's markers, or the request is invalid for them): fail the task
    /// (default, naming the statement and the error), skip and count it
    /// (`cassandra_sink_writes_failed_total`), or hand the error to a function.
    /// Failures a restart may cure (timeouts, unavailable nodes) always fail the task
    /// once `retry_timeout` has passed.
    pub fn failed_writes(mut self, policy: BadRecordPolicy) -> Self {
        self.failed_writes = policy;
        self
    }

    /// Keep each checkpoint's rows in the checkpoint and write them only once it
    /// completes, recording what is written in a progress table (see the README): the
    /// table never holds rows of a checkpoint that did not complete, and a restore
    /// does not write completed checkpoints again. Costs one checkpoint of latency
    /// and the rows in checkpoint state.
    pub fn write_ahead(mut self, options: WriteAhead) -> Self {
        self.write_ahead = Some(options);
        self
    }

    /// `AtLeastOnce` (default) or `ExactlyOnce`, for idempotent statements only
    /// (upserts by primary key whose values come from the record): a replay writes
    /// the same values again.
    pub fn delivery_guarantee(mut self, guarantee: DeliveryGuarantee) -> Self {
        self.guarantee = guarantee;
        self
    }

    /// Whether the statement may be retried (default: what the builder can tell from
    /// its text; see the README).
    pub fn idempotent(mut self, idempotent: bool) -> Self {
        self.idempotent = Some(idempotent);
        self
    }

    /// Writes in flight per subtask (default 64; Flink's default has no bound).
    pub fn max_concurrent_requests(mut self, n: usize) -> Self {
        self.max_concurrent_requests = n;
        self
    }

    /// How long connecting to a node may take (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How long one write may wait for its answer (default 12 s).
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// How long an idempotent write that keeps failing in a way that may pass (a
    /// timeout, an unavailable or overloaded node) is retried before the task fails
    /// (default 60 s).
    pub fn retry_timeout(mut self, timeout: Duration) -> Self {
        self.retry_timeout = timeout;
        self
    }

    /// Whether the driver reads the cluster's schema and topology (default on; a
    /// server without full system tables, such as the kassandra test server, needs it
    /// off).
    pub fn cluster_metadata(mut self, on: bool) -> Self {
        self.cluster_metadata = on;
        self
    }

    /// Validate and build; the error names the bad option.
    pub fn build(self) -> Result<CassandraSink<T>> {
        check_contact_points(&self.contact_points)?;
        if !is_write(&self.statement) {
            return Err(StreamError::invalid(
                "statement",
                &self.statement,
                "an INSERT, UPDATE or DELETE with ? markers",
            ));
        }
        let reason = not_idempotent(&self.statement);
        let idempotent = self.idempotent.unwrap_or(reason.is_none());
        match self.guarantee {
            DeliveryGuarantee::AtLeastOnce => {}
            DeliveryGuarantee::ExactlyOnce => {
                if let Some(reason) = reason {
                    return Err(StreamError::invalid(
                        "delivery_guarantee",
                        "exactly-once",
                        format!("`{}` is not idempotent: {reason}; use at-least-once", self.statement),
                    ));
                }
            }
            other => {
                return Err(StreamError::invalid(
                    "delivery_guarantee",
                    other,
                    "at-least-once, or exactly-once for idempotent statements",
                ));
            }
        }
        if self.max_concurrent_requests == 0 {
            return Err(StreamError::invalid("max_concurrent_requests", 0, "at least 1"));
        }
        check_timeouts([
            ("connect_timeout", self.connect_timeout),
            ("request_timeout", self.request_timeout),
            ("retry_timeout", self.retry_timeout),
        ])?;
        if let Some(write_ahead) = &self.write_ahead {
            write_ahead.validate()?;
        }
        Ok(CassandraSink {
            connection: Connection {
                contact_points: self.contact_points,
                connect_timeout: self.connect_timeout,
                cluster_metadata: self.cluster_metadata,
            },
            statement: self.statement,
            consistency: self.consistency,
            serial_consistency: self.serial_consistency,
            timestamp: self.timestamp,
            failed_writes: self.failed_writes,
            write_ahead: self.write_ahead,
            idempotent,
            guarantee: self.guarantee,
            max_concurrent_requests: self.max_concurrent_requests,
            request_timeout: self.request_timeout,
            retry_timeout: self.retry_timeout,
            _record: PhantomData,
        })
    }
}

/// Options of the write-ahead mode; see [`crate::CassandraSinkBuilder::write_ahead`].
#[derive(Debug, Clone)]
pub struct WriteAhead {
    pub(crate) sink_id: String,
    pub(crate) keyspace: String,
    pub(crate) table: String,
    pub(crate) replication: Option<String>,
    pub(crate) part_rows: usize,
}

impl WriteAhead {
    /// Record progress under `sink_id` (unique among the jobs that share the table,
    /// and the same across restores of one job) in a table of `keyspace`.
    pub fn new(sink_id: impl Into<String>, keyspace: impl Into<String>) -> Self {
        WriteAhead {
            sink_id: sink_id.into(),
            keyspace: keyspace.into(),
            table: "write_ahead_progress".into(),
            replication: None,
            part_rows: 1_000,
        }
    }

    /// The progress table's name (default `write_ahead_progress`; created if missing).
    pub fn table(mut self, table: impl Into<String>) -> Self {
        self.table = table.into();
        self
    }

    /// Create the keyspace if it is missing, with this replication map (CQL, for
    /// example `{'class': 'NetworkTopologyStrategy', 'dc1': 3}`). Without it the
    /// keyspace must exist.
    pub fn replication(mut self, replication: impl Into<String>) -> Self {
        self.replication = Some(replication.into());
        self
    }

    /// Rows per part (default 1 000): a crash while a part is written writes at most
    /// this many rows again; each part costs one more write to the progress table.
    pub fn part_rows(mut self, rows: usize) -> Self {
        self.part_rows = rows;
        self
    }

    pub(crate) fn validate(&self) -> Result<()> {
        let is_name = |s: &str| {
            !s.is_empty()
                && s.len() <= 48
                && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !s.starts_with(|c: char| c.is_ascii_digit())
        };
        if self.sink_id.trim().is_empty() {
            return Err(StreamError::invalid("write_ahead.sink_id", "\"\"", "name the sink (unique per job)"));
        }
        for (option, value) in [("write_ahead.keyspace", &self.keyspace), ("write_ahead.table", &self.table)] {
            if !is_name(value) {
                return Err(StreamError::invalid(
                    option,
                    value,
                    "a CQL name: letters, digits and _, not starting with a digit, at most 48",
                ));
            }
        }
        if let Some(replication) = &self.replication
            && !(replication.trim_start().starts_with('{') && replication.contains("'class'"))
        {
            return Err(StreamError::invalid(
                "write_ahead.replication",
                replication,
                "a CQL replication map such as {'class': 'NetworkTopologyStrategy', 'dc1': 3}",
            ));
        }
        if self.part_rows == 0 {
            return Err(StreamError::invalid("write_ahead.part_rows", 0, "at least 1"));
        }
        Ok(())
    }
}

/// Reads a table (or the rows of a `SELECT` over one table) once, split by token
/// range over the subtasks; each split streams pages and keeps the paging state of
/// its next page in the checkpoint, so a restore neither re-reads nor skips rows.
/// Bounded, exactly-once. Build with [`CassandraSource::builder`].
pub struct CassandraSource<T> {
    pub(crate) connection: Connection,
    pub(crate) query: SplittableQuery,
    pub(crate) partition_key: Vec<String>,
    pub(crate) splits: Option<usize>,
    pub(crate) page_size: i32,
    pub(crate) consistency: Consistency,
    pub(crate) request_timeout: Duration,
    pub(crate) retry_timeout: Duration,
    pub(crate) _record: PhantomData<fn() -> T>,
}

impl<T> std::fmt::Debug for CassandraSource<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CassandraSource")
            .field("contact_points", &self.connection.contact_points)
            .field("query", &self.query.whole())
            .field("splits", &self.splits)
            .field("page_size", &self.page_size)
            .finish_non_exhaustive()
    }
}

impl<T> CassandraSource<T> {
    /// Read the rows of `query` (`SELECT ... FROM keyspace.table [WHERE ...]`, without
    /// aggregates, ORDER BY, GROUP BY, LIMIT or token()) through `contact_points`,
    /// each row decoded into `T` (a tuple, or a struct with
    /// `#[derive(scylla::DeserializeRow)]`).
    pub fn builder(
        contact_points: impl IntoIterator<Item = impl Into<String>>,
        query: impl Into<String>,
    ) -> CassandraSourceBuilder<T> {
        CassandraSourceBuilder {
            contact_points: contact_points.into_iter().map(Into::into).collect(),
            query: query.into(),
            partition_key: Vec::new(),
            splits: None,
            page_size: 1_000,
            consistency: Consistency::LocalQuorum,
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(12),
            retry_timeout: Duration::from_secs(60),
            cluster_metadata: true,
            _record: PhantomData,
        }
    }

    /// The table's partition key: as configured, or from the cluster's metadata.
    pub(crate) fn partition_key(&self, session: &scylla::client::session::Session) -> Result<Vec<String>> {
        if !self.partition_key.is_empty() {
            return Ok(self.partition_key.clone());
        }
        let (keyspace, table) = (&self.query.keyspace, &self.query.table);
        let state = session.get_cluster_state();
        let key = state.get_keyspace(keyspace).and_then(|k| k.tables.get(table)).map(|t| t.partition_key.clone());
        match key {
            Some(key) if !key.is_empty() => Ok(key),
            _ => Err(StreamError::invalid(
                "partition_key",
                "[]",
                format!(
                    "the cluster metadata has no table {keyspace}.{table} (is cluster_metadata off?): name its partition key columns"
                ),
            )),
        }
    }
}

/// Builder of [`CassandraSource`].
pub struct CassandraSourceBuilder<T> {
    contact_points: Vec<String>,
    query: String,
    partition_key: Vec<String>,
    splits: Option<usize>,
    page_size: i32,
    consistency: Consistency,
    connect_timeout: Duration,
    request_timeout: Duration,
    retry_timeout: Duration,
    cluster_metadata: bool,
    _record: PhantomData<fn() -> T>,
}

impl<T> CassandraSourceBuilder<T> {
    /// The table's partition key columns, in order (default: read from the cluster's
    /// metadata).
    pub fn partition_key(mut self, columns: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.partition_key = columns.into_iter().map(Into::into).collect();
        self
    }

    /// Split the ring into this many equal token ranges (default 4 per subtask). One
    /// split reads the whole table with the query as given (no token range).
    pub fn splits(mut self, n: usize) -> Self {
        self.splits = Some(n);
        self
    }

    /// Rows per page (default 1 000): a fetch reads one page, and the position is
    /// kept per page.
    pub fn page_size(mut self, rows: i32) -> Self {
        self.page_size = rows;
        self
    }

    /// The consistency level of each read (default `LOCAL_QUORUM`).
    pub fn consistency(mut self, consistency: Consistency) -> Self {
        self.consistency = consistency;
        self
    }

    /// How long connecting to a node may take (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How long one page may take (default 12 s).
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// How long a page read that keeps failing in a way that may pass is sent again
    /// before the task fails (default 60 s).
    pub fn retry_timeout(mut self, timeout: Duration) -> Self {
        self.retry_timeout = timeout;
        self
    }

    /// Whether the driver reads the cluster's schema and topology (default on; the
    /// kassandra test server needs it off, and then `partition_key` must be given
    /// for more than one split).
    pub fn cluster_metadata(mut self, on: bool) -> Self {
        self.cluster_metadata = on;
        self
    }

    /// Validate and build; the error names the bad option.
    pub fn build(self) -> Result<CassandraSource<T>> {
        check_contact_points(&self.contact_points)?;
        let query = SplittableQuery::parse(&self.query)
            .map_err(|what| StreamError::invalid("query", &self.query, format!("the source needs {what}")))?;
        if self.splits == Some(0) {
            return Err(StreamError::invalid("splits", 0, "at least 1"));
        }
        if self.page_size < 1 {
            return Err(StreamError::invalid("page_size", self.page_size, "at least 1"));
        }
        if self.partition_key.iter().any(|c| c.trim().is_empty()) {
            return Err(StreamError::invalid("partition_key", format!("{:?}", self.partition_key), "column names"));
        }
        check_timeouts([
            ("connect_timeout", self.connect_timeout),
            ("request_timeout", self.request_timeout),
            ("retry_timeout", self.retry_timeout),
        ])?;
        Ok(CassandraSource {
            connection: Connection {
                contact_points: self.contact_points,
                connect_timeout: self.connect_timeout,
                cluster_metadata: self.cluster_metadata,
            },
            query,
            partition_key: self.partition_key,
            splits: self.splits,
            page_size: self.page_size,
            consistency: self.consistency,
            request_timeout: self.request_timeout,
            retry_timeout: self.retry_timeout,
            _record: PhantomData,
        })
    }
}

fn check_contact_points(contact_points: &[String]) -> Result<()> {
    if contact_points.is_empty() || contact_points.iter().any(|c| c.trim().is_empty()) {
        return Err(StreamError::invalid(
            "contact_points",
            format!("{contact_points:?}"),
            "name at least one node as host:port",
        ));
    }
    Ok(())
}

fn check_timeouts<const N: usize>(timeouts: [(&'static str, Duration); N]) -> Result<()> {
    for (option, value) in timeouts {
        if value.is_zero() {
            return Err(StreamError::invalid(option, "0s", "must be greater than zero"));
        }
    }
    Ok(())
}

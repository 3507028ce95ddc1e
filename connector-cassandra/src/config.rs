//! The public sink type, its builder and the validation of every option.

use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use connector_base::DeliveryGuarantee;
use connector_base::schema::BadRecordPolicy;
use scylla::serialize::row::SerializeRow;
use scylla::statement::{Consistency, SerialConsistency};
use stream_core::{Result, StreamError};

use crate::error::CassandraError;
use crate::session::Connection;
use crate::sink::WriteAhead;
use crate::sink::writes::WriteOptions;
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

impl<T> CassandraSink<T> {
    /// A session and the prepared statement with the sink's options.
    pub(crate) async fn write_options(&self) -> Result<WriteOptions> {
        let session = self.connection.session().await?;
        let mut prepared = session
            .prepare(self.statement.as_str())
            .await
            .map_err(|source| CassandraError::Prepare { statement: self.statement.clone(), source })?;
        prepared.set_consistency(self.consistency);
        prepared.set_serial_consistency(self.serial_consistency);
        prepared.set_is_idempotent(self.idempotent);
        prepared.set_request_timeout(Some(self.request_timeout));
        Ok(WriteOptions {
            session,
            prepared,
            statement: self.statement.as_str().into(),
            idempotent: self.idempotent,
            retry_timeout: self.retry_timeout,
            max_in_flight: self.max_concurrent_requests,
            failed_writes: self.failed_writes.clone(),
        })
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
        if self.contact_points.is_empty() || self.contact_points.iter().any(|c| c.trim().is_empty()) {
            return Err(StreamError::invalid(
                "contact_points",
                format!("{:?}", self.contact_points),
                "name at least one node as host:port",
            ));
        }
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
        for (option, value) in [
            ("connect_timeout", self.connect_timeout),
            ("request_timeout", self.request_timeout),
            ("retry_timeout", self.retry_timeout),
        ] {
            if value.is_zero() {
                return Err(StreamError::invalid(option, "0s", "must be greater than zero"));
            }
        }
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

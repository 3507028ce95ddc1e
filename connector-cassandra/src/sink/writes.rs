//! Writes in flight: one prepared statement executed per row, at most
//! `max_in_flight` at once. An idempotent write that fails in a way that may pass (a
//! timeout, an unavailable or overloaded node, a broken connection) is executed again
//! with backoff, within `retry_timeout` (see `crate::retry`); a write the server refuses because of the
//! row itself follows the failed-write policy. The direct writer and the write-ahead
//! committer both write through this.

use std::sync::Arc;
use std::time::Duration;

use connector_base::schema::{BadRecordPolicy, BadRecords};
use futures::StreamExt;
use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;
use scylla::client::session::Session;
use scylla::errors::{DbError, ExecutionError, RequestAttemptError};
use scylla::serialize::row::SerializeRow;
use scylla::statement::prepared::PreparedStatement;
use stream_core::Result;

use crate::config::CassandraSink;
use crate::error::CassandraError;
use crate::retry::{GaveUp, retry_within};

/// One write's outcome.
type Write = BoxFuture<'static, Result<()>>;

/// How rows are written: shared by every write of a writer or committer.
#[derive(Clone)]
pub(crate) struct WriteOptions {
    pub session: Arc<Session>,
    pub prepared: PreparedStatement,
    pub statement: Arc<str>,
    pub idempotent: bool,
    pub retry_timeout: Duration,
    pub max_in_flight: usize,
    pub failed_writes: BadRecordPolicy,
}

/// The writes of one writer or committer.
pub(crate) struct Writes {
    options: WriteOptions,
    bad: BadRecords,
    in_flight: FuturesUnordered<Write>,
}

/// Whether `error` is about the row itself (values that do not fit the statement, a
/// request the server finds invalid for these values): the failed-write policy
/// decides, rather than the task failing for a reason a restart cannot change.
fn caused_by_row(error: &ExecutionError) -> bool {
    match error {
        ExecutionError::BadQuery(_) => true,
        ExecutionError::LastAttemptError(attempt) => matches!(
            attempt,
            RequestAttemptError::SerializationError(_) | RequestAttemptError::DbError(DbError::Invalid, _)
        ),
        _ => false,
    }
}

impl Writes {
    pub fn new(options: WriteOptions) -> Self {
        let bad = BadRecords::new(options.failed_writes.clone());
        Writes { options, bad, in_flight: FuturesUnordered::new() }
    }

    /// Start writing `row` (with `timestamp` as its write time, if any), first waiting
    /// for a write to finish if `max_in_flight` are in flight.
    pub async fn push<R: SerializeRow + Send + Sync + 'static>(
        &mut self,
        row: R,
        timestamp: Option<i64>,
    ) -> Result<()> {
        while self.in_flight.len() >= self.options.max_in_flight {
            self.settle_one().await?;
        }
        let write = self.write_one(row, timestamp);
        self.in_flight.push(write);
        Ok(())
    }

    /// Wait for every write in flight; the first failure is returned.
    pub async fn settle_all(&mut self) -> Result<()> {
        while !self.in_flight.is_empty() {
            self.settle_one().await?;
        }
        Ok(())
    }

    async fn settle_one(&mut self) -> Result<()> {
        match self.in_flight.next().await {
            Some(outcome) => outcome,
            None => Ok(()),
        }
    }

    fn write_one<R: SerializeRow + Send + Sync + 'static>(&self, row: R, timestamp: Option<i64>) -> Write {
        let WriteOptions { session, prepared, statement, idempotent, retry_timeout, .. } = self.options.clone();
        let (bad, policy) = (self.bad.clone(), self.options.failed_writes.clone());
        let prepared = match timestamp {
            None => prepared,
            Some(timestamp) => {
                let mut prepared = prepared;
                prepared.set_timestamp(Some(timestamp));
                prepared
            }
        };
        Box::pin(async move {
            let write = || session.execute_unpaged(&prepared, &row);
            let error = match retry_within(&statement, idempotent, retry_timeout, write).await {
                Ok(_) => return Ok(()),
                Err(GaveUp::Exhausted(source)) => {
                    let statement = statement.to_string();
                    return Err(CassandraError::RetriesExhausted { statement, timeout: retry_timeout, source }.into());
                }
                Err(GaveUp::Failed(error)) => error,
            };
            if caused_by_row(&error) && !matches!(policy, BadRecordPolicy::Fail) {
                metrics::counter!("cassandra_sink_writes_failed_total").increment(1);
                return bad.settle::<()>(Err(error.to_string()), &[], format!("`{statement}`")).map(|_| ());
            }
            Err(CassandraError::Write { statement: statement.to_string(), source: error }.into())
        })
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

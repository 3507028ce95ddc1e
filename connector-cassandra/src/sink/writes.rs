//! Writes in flight: one prepared statement executed per row, at most
//! `max_in_flight` at once. An idempotent write that fails in a way that may pass (a
//! timeout, an unavailable or overloaded node, a broken connection) is executed again
//! with backoff, within `retry_timeout`; a write the server refuses because of the
//! row itself follows the failed-write policy. The direct writer and the write-ahead
//! committer both write through this.

use std::sync::Arc;
use std::time::{Duration, Instant};

use connector_base::schema::{BadRecordPolicy, BadRecords};
use futures::StreamExt;
use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;
use scylla::client::session::Session;
use scylla::errors::{DbError, ExecutionError, RequestAttemptError};
use scylla::serialize::row::SerializeRow;
use scylla::statement::prepared::PreparedStatement;
use stream_core::Result;
use stream_core::retry::RetryPolicy;

use crate::error::CassandraError;

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

/// Whether `error` may pass if the same write is sent again.
fn may_pass(error: &ExecutionError) -> bool {
    match error {
        ExecutionError::RequestTimeout(_) | ExecutionError::EmptyPlan | ExecutionError::ConnectionPoolError(_) => true,
        ExecutionError::LastAttemptError(attempt) => match attempt {
            RequestAttemptError::BrokenConnectionError(_) | RequestAttemptError::UnableToAllocStreamId => true,
            RequestAttemptError::DbError(db, _) => matches!(
                db,
                DbError::WriteTimeout { .. }
                    | DbError::ReadTimeout { .. }
                    | DbError::Unavailable { .. }
                    | DbError::Overloaded
                    | DbError::IsBootstrapping
                    | DbError::ServerError
            ),
            _ => false,
        },
        _ => false,
    }
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
            let first_try = Instant::now();
            let mut backoff = RetryPolicy::exponential(Duration::from_millis(50), Duration::from_secs(2)).backoff();
            loop {
                let error = match session.execute_unpaged(&prepared, &row).await {
                    Ok(_) => return Ok(()),
                    Err(error) => error,
                };
                if caused_by_row(&error) && !matches!(policy, BadRecordPolicy::Fail) {
                    metrics::counter!("cassandra_sink_writes_failed_total").increment(1);
                    return bad.settle::<()>(Err(error.to_string()), &[], format!("`{statement}`")).map(|_| ());
                }
                if !(idempotent && may_pass(&error)) {
                    return Err(CassandraError::Write { statement: statement.to_string(), source: error }.into());
                }
                if first_try.elapsed() >= retry_timeout {
                    let statement = statement.to_string();
                    let error = CassandraError::RetriesExhausted { statement, timeout: retry_timeout, source: error };
                    return Err(error.into());
                }
                let delay = backoff.delay();
                tracing::warn!(%statement, %error, ?delay, "write failed; writing again");
                metrics::counter!("cassandra_sink_writes_retried_total").increment(1);
                tokio::time::sleep(delay).await;
            }
        })
    }
}

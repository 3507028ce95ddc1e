//! One prepared statement executed per record, at most `max_concurrent_requests` at
//! once; a checkpoint waits for all of them. An idempotent write that fails in a way
//! that may pass (a timeout, an unavailable or overloaded node, a broken connection)
//! is executed again with backoff, within `retry_timeout`.

use std::marker::PhantomData;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;
use scylla::client::session::Session;
use scylla::errors::{DbError, ExecutionError, RequestAttemptError};
use scylla::serialize::row::SerializeRow;
use scylla::statement::prepared::PreparedStatement;
use stream_core::Result;
use stream_core::api::SinkWriter;
use stream_core::retry::RetryPolicy;

use crate::config::CassandraSink;
use crate::error::CassandraError;

/// One write's outcome.
type Write = BoxFuture<'static, std::result::Result<(), CassandraError>>;

/// The writer of one subtask.
pub struct CassandraWriter<T> {
    session: Arc<Session>,
    prepared: PreparedStatement,
    statement: Arc<str>,
    idempotent: bool,
    retry_timeout: Duration,
    max_in_flight: usize,
    in_flight: FuturesUnordered<Write>,
    _record: PhantomData<fn(T)>,
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

impl<T: SerializeRow + Send + Sync + 'static> CassandraWriter<T> {
    pub(crate) async fn new(sink: &CassandraSink<T>) -> Result<Self> {
        let session = sink.connection.session().await?;
        let mut prepared = session
            .prepare(sink.statement.as_str())
            .await
            .map_err(|source| CassandraError::Prepare { statement: sink.statement.clone(), source })?;
        prepared.set_consistency(sink.consistency);
        prepared.set_is_idempotent(sink.idempotent);
        prepared.set_request_timeout(Some(sink.request_timeout));
        tracing::info!(statement = %sink.statement, guarantee = %sink.guarantee, "cassandra writer ready");
        Ok(CassandraWriter {
            session,
            prepared,
            statement: sink.statement.as_str().into(),
            idempotent: sink.idempotent,
            retry_timeout: sink.retry_timeout,
            max_in_flight: sink.max_concurrent_requests,
            in_flight: FuturesUnordered::new(),
            _record: PhantomData,
        })
    }

    fn write_one(&self, record: T) -> Write {
        let (session, prepared, statement) = (self.session.clone(), self.prepared.clone(), self.statement.clone());
        let (idempotent, retry_timeout) = (self.idempotent, self.retry_timeout);
        Box::pin(async move {
            let first_try = Instant::now();
            let mut backoff = RetryPolicy::exponential(Duration::from_millis(50), Duration::from_secs(2)).backoff();
            loop {
                let error = match session.execute_unpaged(&prepared, &record).await {
                    Ok(_) => return Ok(()),
                    Err(error) => error,
                };
                if !(idempotent && may_pass(&error)) {
                    return Err(CassandraError::Write { statement: statement.to_string(), source: error });
                }
                if first_try.elapsed() >= retry_timeout {
                    let statement = statement.to_string();
                    return Err(CassandraError::RetriesExhausted { statement, timeout: retry_timeout, source: error });
                }
                let delay = backoff.delay();
                tracing::warn!(%statement, %error, ?delay, "write failed; writing again");
                metrics::counter!("cassandra_sink_writes_retried_total").increment(1);
                tokio::time::sleep(delay).await;
            }
        })
    }

    async fn settle_one(&mut self) -> Result<()> {
        match self.in_flight.next().await {
            Some(outcome) => Ok(outcome?),
            None => Ok(()),
        }
    }
}

impl<T: SerializeRow + Send + Sync + 'static> SinkWriter<T> for CassandraWriter<T> {
    type Committable = ();
    type State = ();

    async fn write(&mut self, record: T) -> Result<()> {
        while self.in_flight.len() >= self.max_in_flight {
            self.settle_one().await?;
        }
        let write = self.write_one(record);
        self.in_flight.push(write);
        Ok(())
    }

    /// Wait for every write; a failure fails the checkpoint.
    async fn flush(&mut self, _end_of_input: bool) -> Result<()> {
        while !self.in_flight.is_empty() {
            self.settle_one().await?;
        }
        Ok(())
    }
}

//! The writer of one subtask: rows are bound as records arrive and sent in batches of
//! pipelined statements. At-least-once: each batch is a transaction of its own, sent
//! again whole after a failure. Exactly-once: every batch goes into the checkpoint's
//! open transaction, which `prepare_commit` prepares (after writing its marker row).

use connector_base::DeliveryGuarantee;
use futures::future::try_join_all;
use stream_core::Result;
use stream_core::api::SinkWriter;
use stream_core::retry::RetryPolicy;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Statement};

use super::markers;
use crate::config::{Bind, Params};
use crate::error::{JdbcError, failed};
use crate::gid::Gid;

/// The writer of one subtask.
pub struct JdbcWriter<T> {
    pub(crate) client: Client,
    pub(crate) statement: Statement,
    pub(crate) sql: String,
    pub(crate) bind: Bind<T>,
    pub(crate) guarantee: DeliveryGuarantee,
    pub(crate) batch_size: usize,
    pub(crate) retry: RetryPolicy,
    /// Exactly-once: the prefix, this subtask and the marker table.
    pub(crate) prefix: String,
    pub(crate) subtask: u32,
    pub(crate) marker_table: String,
    /// Rows bound and not sent yet.
    pub(crate) rows: Vec<Params>,
    /// Exactly-once: rows sent into the open transaction (0: none is open).
    pub(crate) in_transaction: usize,
}

impl<T> JdbcWriter<T> {
    /// Run the statement for every row, pipelined on the one connection.
    async fn execute_all(&self, rows: &[Params]) -> std::result::Result<(), tokio_postgres::Error> {
        let calls = rows.iter().map(|row| {
            let params: Vec<&(dyn ToSql + Sync)> = row.iter().map(|p| p.as_ref() as &(dyn ToSql + Sync)).collect();
            async move { self.client.execute(&self.statement, &params).await }
        });
        try_join_all(calls).await.map(drop)
    }

    /// At-least-once: the rows in one transaction, the whole batch again after a
    /// failure that may pass (Flink kept a failed batch's rows and sent them twice:
    /// FLINK-19723).
    async fn send_in_own_transaction(&mut self) -> std::result::Result<(), JdbcError> {
        let rows = std::mem::take(&mut self.rows);
        let mut backoff = self.retry.backoff();
        loop {
            let attempt = async {
                self.client.batch_execute("BEGIN").await?;
                self.execute_all(&rows).await?;
                self.client.batch_execute("COMMIT").await
            };
            let error = match attempt.await {
                Ok(()) => break,
                Err(error) => error,
            };
            let _ = self.client.batch_execute("ROLLBACK").await;
            match backoff.next_delay() {
                Some(delay) if is_retryable(&error) => {
                    tracing::warn!(statement = %self.sql, ?delay, %error, "a batch failed; sending it again");
                    tokio::time::sleep(delay).await;
                }
                _ => return Err(failed(format!("a batch of {} rows of `{}`", rows.len(), self.sql))(error)),
            }
        }
        metrics::counter!("jdbc_sink_rows_written_total").increment(rows.len() as u64);
        Ok(())
    }

    /// Exactly-once: the rows into the checkpoint's transaction (opened by the first).
    async fn send_in_checkpoint_transaction(&mut self) -> std::result::Result<(), JdbcError> {
        if self.in_transaction == 0 {
            self.client.batch_execute("BEGIN").await.map_err(failed("opening the checkpoint's transaction"))?;
        }
        let rows = std::mem::take(&mut self.rows);
        // A failure aborts the transaction: the job goes back to its last checkpoint,
        // and this transaction, never prepared, goes with the connection.
        self.execute_all(&rows).await.map_err(failed(format!("a batch of {} rows of `{}`", rows.len(), self.sql)))?;
        self.in_transaction += rows.len();
        metrics::counter!("jdbc_sink_rows_written_total").increment(rows.len() as u64);
        Ok(())
    }

    async fn send(&mut self) -> std::result::Result<(), JdbcError> {
        if self.rows.is_empty() {
            return Ok(());
        }
        match self.guarantee {
            DeliveryGuarantee::ExactlyOnce => self.send_in_checkpoint_transaction().await,
            _ => self.send_in_own_transaction().await,
        }
    }
}

/// Serialization failures and deadlocks pass when the transaction runs again.
fn is_retryable(error: &tokio_postgres::Error) -> bool {
    use tokio_postgres::error::SqlState;
    let code = error.code();
    code == Some(&SqlState::T_R_SERIALIZATION_FAILURE)
        || code == Some(&SqlState::T_R_DEADLOCK_DETECTED)
        || code == Some(&SqlState::ADMIN_SHUTDOWN)
        || code == Some(&SqlState::CANNOT_CONNECT_NOW)
}

impl<T: Send + Sync + 'static> SinkWriter<T> for JdbcWriter<T> {
    type Committable = Gid;
    type State = ();

    async fn write(&mut self, record: T) -> Result<()> {
        self.rows.push((self.bind)(&record));
        if self.rows.len() >= self.batch_size {
            self.send().await?;
        }
        Ok(())
    }

    async fn flush(&mut self, _end_of_input: bool) -> Result<()> {
        Ok(self.send().await?)
    }

    async fn prepare_commit(&mut self, checkpoint_id: u64) -> Result<Vec<Gid>> {
        if self.guarantee != DeliveryGuarantee::ExactlyOnce || self.in_transaction == 0 {
            return Ok(Vec::new());
        }
        let gid = Gid { prefix: self.prefix.clone(), subtask: self.subtask, checkpoint: checkpoint_id };
        markers::write(&self.client, &self.marker_table, &gid).await?;
        let prepare = format!("PREPARE TRANSACTION '{}'", gid.text());
        self.client.batch_execute(&prepare).await.map_err(failed(format!("preparing {}", gid.text())))?;
        self.in_transaction = 0;
        Ok(vec![gid])
    }
}

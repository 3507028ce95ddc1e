//! The writer of one subtask: rows are bound as records arrive and sent in batches of
//! pipelined statements. At-least-once: each batch is a transaction of its own, sent
//! again whole after a failure. Exactly-once: every batch goes into the checkpoint's
//! open transaction, which `prepare_commit` prepares (after writing its marker row).
//!
//! A lost session costs no restart: the writer opens a new one (ending the old
//! server process first) and, under exactly-once, sends the open transaction's rows
//! into a new transaction, which it keeps until the checkpoint for that reason.
//! When a `PREPARE TRANSACTION` lost its answer, `pg_prepared_xacts` says whether it
//! happened.

use connector_base::DeliveryGuarantee;
use futures::future::try_join_all;
use stream_core::Result;
use stream_core::api::SinkWriter;
use stream_core::retry::{Backoff, RetryPolicy};
use tokio_postgres::Client;
use tokio_postgres::types::ToSql;

use super::markers;
use super::session::Session;
use crate::config::{Bind, Params};
use crate::connection::PgConnection;
use crate::error::{JdbcError, failed, transient};
use crate::gid::Gid;

/// The writer of one subtask.
pub struct JdbcWriter<T> {
    pub(crate) connection: PgConnection,
    /// The open session (`None` after one was lost) and the last one's process id.
    pub(crate) session: Option<Session>,
    pub(crate) last_pid: Option<i32>,
    pub(crate) sql: String,
    pub(crate) bind: Bind<T>,
    pub(crate) guarantee: DeliveryGuarantee,
    pub(crate) batch_size: usize,
    pub(crate) batch_interval: std::time::Duration,
    pub(crate) retry: RetryPolicy,
    /// Exactly-once: the prefix, this subtask and the marker table.
    pub(crate) prefix: String,
    pub(crate) subtask: u32,
    pub(crate) marker_table: String,
    /// Rows bound and not sent yet, and when the first of them came.
    pub(crate) rows: Vec<Params>,
    pub(crate) first_row_at: tokio::time::Instant,
    /// Exactly-once: the rows sent into the checkpoint's transaction, and whether
    /// that transaction is open on the current session.
    pub(crate) sent: Vec<Params>,
    pub(crate) in_transaction: bool,
}

impl<T> JdbcWriter<T> {
    /// The open session, or a new one.
    async fn session(&mut self) -> std::result::Result<&Session, JdbcError> {
        if self.session.as_ref().is_none_or(|s| s.client.is_closed()) {
            self.session = None;
            let session = Session::open(&self.connection, &self.sql, self.last_pid).await?;
            self.last_pid = Some(session.pid);
            self.session = Some(session);
        }
        self.session.as_ref().ok_or_else(|| JdbcError::Invalid("no writer session".into()))
    }

    fn client(&self) -> std::result::Result<&Client, JdbcError> {
        self.session.as_ref().map(|s| &s.client).ok_or_else(|| JdbcError::Invalid("no writer session".into()))
    }

    /// Run the statement for every row, pipelined on the session.
    async fn execute_all(&self, rows: &[Params]) -> std::result::Result<(), JdbcError> {
        let session = self.session.as_ref().ok_or_else(|| JdbcError::Invalid("no writer session".into()))?;
        let calls = rows.iter().map(|row| {
            let params: Vec<&(dyn ToSql + Sync)> = row.iter().map(|p| p.as_ref() as &(dyn ToSql + Sync)).collect();
            async move { session.client.execute(&session.statement, &params).await }
        });
        try_join_all(calls).await.map(drop).map_err(failed(format!("a batch of {} rows of `{}`", rows.len(), self.sql)))
    }

    /// After a failure: roll back what the session still holds (nothing when it is
    /// gone), then wait before the next try when the failure may pass and the
    /// policy allows; otherwise the error.
    async fn after_failure(&mut self, error: JdbcError, backoff: &mut Backoff) -> std::result::Result<(), JdbcError> {
        self.in_transaction = false;
        if matches!(error, JdbcError::Timeout { .. }) {
            // Its statements may still run: the next session ends its process.
            self.session = None;
        } else if let Some(session) = &self.session
            && !session.client.is_closed()
        {
            let _ = session.client.batch_execute("ROLLBACK").await;
        }
        let delay = if transient(&error) { backoff.next_delay() } else { None };
        let Some(delay) = delay else { return Err(error) };
        tracing::warn!(statement = %self.sql, ?delay, %error, "writing failed; trying again");
        tokio::time::sleep(delay).await;
        Ok(())
    }

    /// At-least-once: the rows in one transaction, the whole batch again after a
    /// failure that may pass (Flink kept a failed batch's rows and sent them twice:
    /// FLINK-19723).
    async fn send_in_own_transaction(&mut self) -> std::result::Result<(), JdbcError> {
        let rows = std::mem::take(&mut self.rows);
        let mut backoff = self.retry.backoff();
        let connection = self.connection.clone();
        loop {
            let attempt = async {
                self.session().await?.client.batch_execute("BEGIN").await.map_err(failed("opening a transaction"))?;
                self.execute_all(&rows).await?;
                self.client()?.batch_execute("COMMIT").await.map_err(failed("committing a batch"))
            };
            match connection.within("a batch", attempt).await {
                Ok(()) => break,
                Err(error) => self.after_failure(error, &mut backoff).await?,
            }
        }
        metrics::counter!("jdbc_sink_rows_written_total").increment(rows.len() as u64);
        Ok(())
    }

    /// Exactly-once: open the checkpoint's transaction on the session, with the rows
    /// sent into its lost predecessor, if any.
    async fn begin_checkpoint_transaction(&mut self) -> std::result::Result<(), JdbcError> {
        self.session()
            .await?
            .client
            .batch_execute("BEGIN")
            .await
            .map_err(failed("opening the checkpoint's transaction"))?;
        if !self.sent.is_empty() {
            tracing::info!(rows = self.sent.len(), "sending the checkpoint's rows again into a new transaction");
            self.execute_all(&self.sent).await?;
        }
        self.in_transaction = true;
        Ok(())
    }

    /// Exactly-once: the rows into the checkpoint's transaction.
    async fn send_in_checkpoint_transaction(&mut self) -> std::result::Result<(), JdbcError> {
        let rows = std::mem::take(&mut self.rows);
        let mut backoff = self.retry.backoff();
        let connection = self.connection.clone();
        loop {
            let attempt = async {
                if !self.in_transaction {
                    self.begin_checkpoint_transaction().await?;
                }
                self.execute_all(&rows).await
            };
            match connection.within("a batch", attempt).await {
                Ok(()) => break,
                Err(error) => self.after_failure(error, &mut backoff).await?,
            }
        }
        metrics::counter!("jdbc_sink_rows_written_total").increment(rows.len() as u64);
        self.sent.extend(rows);
        Ok(())
    }

    /// Exactly-once: whether `gid` is prepared (a `PREPARE` whose answer was lost).
    async fn prepared(&mut self, gid: &Gid) -> std::result::Result<bool, JdbcError> {
        let found = self
            .session()
            .await?
            .client
            .query("SELECT 1 FROM pg_prepared_xacts WHERE gid = $1", &[&gid.text()])
            .await
            .map_err(failed(format!("looking for {}", gid.text())))?;
        Ok(!found.is_empty())
    }

    /// Exactly-once: write the marker and prepare the checkpoint's transaction.
    async fn prepare(&mut self, gid: &Gid, maybe_prepared: bool) -> std::result::Result<(), JdbcError> {
        if maybe_prepared && self.prepared(gid).await? {
            return Ok(());
        }
        if !self.in_transaction {
            self.begin_checkpoint_transaction().await?;
        }
        let client = self.client()?;
        markers::write(client, &self.marker_table, gid).await?;
        let prepare = format!("PREPARE TRANSACTION '{}'", gid.text());
        client.batch_execute(&prepare).await.map_err(failed(format!("preparing {}", gid.text())))
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

impl<T: Send + Sync + 'static> SinkWriter<T> for JdbcWriter<T> {
    type Committable = Gid;
    type State = ();

    async fn write(&mut self, record: T) -> Result<()> {
        self.rows.push((self.bind)(&record));
        let now = tokio::time::Instant::now();
        if self.rows.len() == 1 {
            self.first_row_at = now;
        }
        let waited_enough = !self.batch_interval.is_zero() && now >= self.first_row_at + self.batch_interval;
        if self.rows.len() >= self.batch_size || waited_enough {
            self.send().await?;
        }
        Ok(())
    }

    async fn flush(&mut self, _end_of_input: bool) -> Result<()> {
        Ok(self.send().await?)
    }

    async fn prepare_commit(&mut self, checkpoint_id: u64) -> Result<Vec<Gid>> {
        if self.guarantee != DeliveryGuarantee::ExactlyOnce || self.sent.is_empty() {
            return Ok(Vec::new());
        }
        let gid = Gid { prefix: self.prefix.clone(), subtask: self.subtask, checkpoint: checkpoint_id };
        let (mut backoff, mut maybe_prepared) = (self.retry.backoff(), false);
        let connection = self.connection.clone();
        loop {
            let what = format!("preparing {}", gid.text());
            match connection.within(&what, self.prepare(&gid, maybe_prepared)).await {
                Ok(()) => break,
                Err(error) => {
                    // A lost answer leaves the outcome open; the next try asks first.
                    maybe_prepared = true;
                    self.after_failure(error, &mut backoff).await?;
                }
            }
        }
        self.in_transaction = false;
        self.sent.clear();
        Ok(vec![gid])
    }
}

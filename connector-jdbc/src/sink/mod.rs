//! `impl Sink` for [`JdbcSink`]: a writer per subtask (its own session, the statement
//! prepared once) and a committer (exactly-once).

mod committer;
mod markers;
mod session;
mod writer;

use connector_base::DeliveryGuarantee;
use stream_core::Result;
use stream_core::api::{Sink, TaskContext};

pub use committer::JdbcCommitter;
pub use writer::JdbcWriter;

use crate::config::JdbcSink;
use crate::gid::Gid;

impl<T: Send + Sync + 'static> Sink<T> for JdbcSink<T> {
    type Committable = Gid;
    type WriterState = ();
    type Writer = JdbcWriter<T>;
    type Committer = JdbcCommitter;

    fn connector_name(&self) -> &'static str {
        "jdbc"
    }

    async fn create_writer(&self, ctx: &TaskContext, _restored: Vec<()>) -> Result<JdbcWriter<T>> {
        let session = session::Session::open(&self.connection, &self.statement, None).await?;
        let client = &session.client;
        let subtask = u32::try_from(ctx.subtask).unwrap_or(u32::MAX);
        let prefix = self.transaction_prefix.clone().unwrap_or_default();
        if self.guarantee == DeliveryGuarantee::ExactlyOnce {
            self.connection.check_prepared_transactions(client).await?;
            markers::ensure_table(client, &self.marker_table).await?;
            let parallelism = u32::try_from(ctx.parallelism).unwrap_or(u32::MAX);
            let rolled_back =
                markers::roll_back_orphans(client, &prefix, subtask, parallelism, ctx.restored_checkpoint).await?;
            if !rolled_back.is_empty() {
                let gids: Vec<String> = rolled_back.iter().map(Gid::text).collect();
                tracing::info!(?gids, "rolled back prepared transactions no checkpoint covers");
            }
        }
        Ok(JdbcWriter {
            connection: self.connection.clone(),
            last_pid: Some(session.pid),
            session: Some(session),
            sql: self.statement.clone(),
            bind: self.bind.clone(),
            guarantee: self.guarantee,
            batch_size: self.batch_size,
            batch_interval: self.batch_interval,
            retry: self.retry.clone(),
            prefix,
            subtask,
            marker_table: self.marker_table.clone(),
            rows: Vec::new(),
            first_row_at: tokio::time::Instant::now(),
            sent: Vec::new(),
            in_transaction: false,
        })
    }

    async fn create_committer(&self, ctx: &TaskContext) -> Result<JdbcCommitter> {
        Ok(JdbcCommitter {
            connection: self.connection.clone(),
            marker_table: self.marker_table.clone(),
            retry: self.retry.clone(),
            client: None,
            prefix: self.transaction_prefix.clone().unwrap_or_default(),
            subtask: u32::try_from(ctx.subtask).unwrap_or(u32::MAX),
        })
    }
}

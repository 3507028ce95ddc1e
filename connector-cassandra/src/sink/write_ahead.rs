//! The write-ahead mode (Flink's `GenericWriteAheadSink` with `CassandraCommitter`):
//! the writer keeps a checkpoint's rows in checkpoint state as committables, split in
//! parts of `part_rows`; once the checkpoint completes the committer writes each part
//! and then records it as written in a progress table, one row per sink and subtask
//! (overwritten, so the table does not grow). A restore skips the parts that row
//! says are written; a crash while a part is being written writes that part again.

use std::collections::HashMap;
use std::sync::Arc;

use scylla::client::session::Session;
use scylla::statement::Consistency;
use scylla::statement::prepared::PreparedStatement;
use serde::{Deserialize, Serialize};
use stream_core::{Result, StreamError};

use super::row_log::RowLog;
use super::writes::Writes;
use crate::config::WriteAhead;
use crate::error::CassandraError;

/// Rows of one checkpoint of one subtask, written once the checkpoint completes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CassandraCommittable {
    checkpoint: u64,
    subtask: u32,
    part: u32,
    rows: RowLog,
}

impl CassandraCommittable {
    /// The parts of `rows` (already cut at `part_rows`) of `checkpoint`.
    pub(crate) fn parts(checkpoint: u64, subtask: usize, rows: Vec<RowLog>) -> Vec<CassandraCommittable> {
        let subtask = u32::try_from(subtask).unwrap_or(u32::MAX);
        let parts = rows.into_iter().filter(|r| !r.is_empty()).zip(0u32..);
        parts.map(|(rows, part)| CassandraCommittable { checkpoint, subtask, part, rows }).collect()
    }

    fn position(&self) -> (u64, u32) {
        (self.checkpoint, self.part)
    }
}

/// The progress table: per sink and subtask, the last part written.
pub(crate) struct Progress {
    session: Arc<Session>,
    sink_id: String,
    table: String,
    select: PreparedStatement,
    upsert: PreparedStatement,
    written: HashMap<u32, Option<(u64, u32)>>,
    /// The checkpoint this attempt restored from: progress recorded beyond it (when
    /// the newest checkpoint could not be read and an older one was restored) is of
    /// checkpoint ids that will be used again, for new rows.
    restored: Option<u64>,
}

impl Progress {
    /// Create what is missing and prepare the statements.
    pub async fn open(
        session: Arc<Session>,
        options: &WriteAhead,
        consistency: Consistency,
        restored: Option<u64>,
    ) -> Result<Self> {
        let table = format!("{}.{}", options.keyspace, options.table);
        let run = |cql: String| {
            let session = session.clone();
            async move {
                session
                    .query_unpaged(cql.as_str(), &[])
                    .await
                    .map_err(|source| CassandraError::WriteAhead { statement: cql, source })
            }
        };
        if let Some(replication) = &options.replication {
            run(format!("CREATE KEYSPACE IF NOT EXISTS {} WITH replication = {replication}", options.keyspace)).await?;
        }
        run(format!(
            "CREATE TABLE IF NOT EXISTS {table} (sink_id text, subtask int, checkpoint_id bigint, part int, \
             PRIMARY KEY ((sink_id, subtask)))"
        ))
        .await?;
        let prepare = |cql: String| {
            let session = session.clone();
            async move {
                let mut prepared = session
                    .prepare(cql.as_str())
                    .await
                    .map_err(|source| CassandraError::Prepare { statement: cql, source })?;
                prepared.set_consistency(consistency);
                prepared.set_is_idempotent(true);
                Ok::<_, CassandraError>(prepared)
            }
        };
        let select =
            prepare(format!("SELECT checkpoint_id, part FROM {table} WHERE sink_id = ? AND subtask = ?")).await?;
        let upsert =
            prepare(format!("INSERT INTO {table} (sink_id, subtask, checkpoint_id, part) VALUES (?, ?, ?, ?)")).await?;
        Ok(Progress {
            session,
            sink_id: options.sink_id.clone(),
            table,
            select,
            upsert,
            written: HashMap::new(),
            restored,
        })
    }

    fn failed(&self, source: scylla::errors::ExecutionError) -> StreamError {
        CassandraError::WriteAhead { statement: format!("progress of `{}` in {}", self.sink_id, self.table), source }
            .into()
    }

    /// Forget this subtask's progress: a job that starts without a checkpoint numbers
    /// its checkpoints from 1 again. The row is overwritten with checkpoint 0 (before
    /// any), not deleted: no tombstone per start.
    pub async fn reset(&mut self, subtask: usize) -> Result<()> {
        let row = (&self.sink_id, i32::try_from(subtask).unwrap_or(i32::MAX), 0i64, 0i32);
        self.session.execute_unpaged(&self.upsert, row).await.map_err(|e| self.failed(e))?;
        self.written.clear();
        Ok(())
    }

    /// The last part of `subtask` known written.
    async fn written(&mut self, subtask: u32) -> Result<Option<(u64, u32)>> {
        if let Some(known) = self.written.get(&subtask) {
            return Ok(*known);
        }
        let key = (&self.sink_id, i32::try_from(subtask).unwrap_or(i32::MAX));
        let result = self.session.execute_unpaged(&self.select, key).await.map_err(|e| self.failed(e))?;
        let rows =
            result.into_rows_result().map_err(|e| StreamError::connector(CassandraError::Read(e.to_string())))?;
        let row = rows
            .maybe_first_row::<(i64, i32)>()
            .map_err(|e| StreamError::connector(CassandraError::Read(e.to_string())))?;
        let mut known = row
            .filter(|(checkpoint, _)| *checkpoint > 0)
            .map(|(checkpoint, part)| (checkpoint as u64, part.max(0) as u32));
        if let (Some((checkpoint, _)), Some(restored)) = (known, self.restored)
            && checkpoint > restored
        {
            // Everything up to the restored checkpoint is written; what came after it
            // is written again under the same ids.
            tracing::warn!(checkpoint, restored, "progress beyond the restored checkpoint; writing its ids again");
            known = Some((restored, u32::MAX));
        }
        self.written.insert(subtask, known);
        Ok(known)
    }

    async fn mark(&mut self, done: &CassandraCommittable) -> Result<()> {
        let checkpoint = i64::try_from(done.checkpoint).unwrap_or(i64::MAX);
        let part = i32::try_from(done.part).unwrap_or(i32::MAX);
        let row = (&self.sink_id, i32::try_from(done.subtask).unwrap_or(i32::MAX), checkpoint, part);
        self.session.execute_unpaged(&self.upsert, row).await.map_err(|e| self.failed(e))?;
        self.written.insert(done.subtask, Some(done.position()));
        Ok(())
    }
}

/// Writes the parts of completed checkpoints that the progress table does not hold.
pub(crate) struct WriteAheadCommitter {
    pub writes: Writes,
    pub progress: Progress,
}

impl WriteAheadCommitter {
    pub async fn commit(&mut self, committables: &[CassandraCommittable]) -> Result<()> {
        tracing::debug!(parts = committables.len(), first = ?committables.first().map(|c| c.position()), "committing");
        for part in committables {
            if self.progress.written(part.subtask).await?.is_some_and(|written| written >= part.position()) {
                let sink_id = self.progress.sink_id.clone();
                metrics::counter!("cassandra_sink_write_ahead_rows_skipped_total", "sink_id" => sink_id)
                    .increment(part.rows.len() as u64);
                tracing::debug!(checkpoint = part.checkpoint, part = part.part, "part already written; skipped");
                continue;
            }
            let rows = part.rows.rows().map_err(|e| {
                StreamError::connector(CassandraError::Read(format!(
                    "the write-ahead rows of checkpoint {} are damaged: {e}",
                    part.checkpoint
                )))
            })?;
            for row in rows {
                let timestamp = row.timestamp;
                self.writes.push(row, timestamp).await?;
            }
            self.writes.settle_all().await?;
            self.progress.mark(part).await?;
            let sink_id = self.progress.sink_id.clone();
            metrics::counter!("cassandra_sink_write_ahead_rows_written_total", "sink_id" => sink_id)
                .increment(part.rows.len() as u64);
        }
        Ok(())
    }
}

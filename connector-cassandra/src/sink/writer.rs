//! The writer of one subtask. Direct: each record is written at once, and a
//! checkpoint waits for every write. Write-ahead: each record is bound and kept, and
//! the checkpoint hands the rows to the committer as committables.

use std::marker::PhantomData;
use std::sync::Arc;

use connector_base::schema::{BadRecordPolicy, BadRecords};
use scylla::serialize::row::SerializeRow;
use scylla::statement::prepared::PreparedStatement;
use stream_core::Result;
use stream_core::api::{SinkWriter, TaskContext};

use super::row_log::RowLog;
use super::write_ahead::CassandraCommittable;
use super::writes::Writes;
use crate::config::{CassandraSink, Timestamp};
use crate::error::CassandraError;

/// The writer of one subtask.
pub struct CassandraWriter<T> {
    mode: Mode,
    timestamp: Option<Timestamp<T>>,
    _record: PhantomData<fn(T)>,
}

enum Mode {
    Direct(Writes),
    WriteAhead(Rows),
}

/// The write-ahead rows of the current checkpoint.
struct Rows {
    prepared: PreparedStatement,
    statement: Arc<str>,
    part_rows: usize,
    subtask: usize,
    full: Vec<RowLog>,
    current: RowLog,
    policy: BadRecordPolicy,
    bad: BadRecords,
}

impl<T: SerializeRow + Send + Sync + 'static> CassandraWriter<T> {
    pub(crate) async fn new(sink: &CassandraSink<T>, ctx: &TaskContext) -> Result<Self> {
        let options = sink.write_options().await?;
        let mode = match &sink.write_ahead {
            None => Mode::Direct(Writes::new(options)),
            Some(write_ahead) => Mode::WriteAhead(Rows {
                prepared: options.prepared,
                statement: options.statement,
                part_rows: write_ahead.part_rows,
                subtask: ctx.subtask,
                full: Vec::new(),
                current: RowLog::default(),
                bad: BadRecords::new(options.failed_writes.clone()),
                policy: options.failed_writes,
            }),
        };
        let write_ahead = sink.write_ahead.is_some();
        tracing::info!(statement = %sink.statement, guarantee = %sink.guarantee, write_ahead, "cassandra writer ready");
        Ok(CassandraWriter { mode, timestamp: sink.timestamp.clone(), _record: PhantomData })
    }
}

impl Rows {
    fn append<T: SerializeRow>(&mut self, record: &T, timestamp: Option<i64>) -> Result<()> {
        if let Err(source) = self.current.append(&self.prepared, record, timestamp) {
            if matches!(self.policy, BadRecordPolicy::Fail) {
                return Err(CassandraError::Bind { statement: self.statement.to_string(), source }.into());
            }
            metrics::counter!("cassandra_sink_writes_failed_total").increment(1);
            self.bad.settle::<()>(Err(source.to_string()), &[], format!("`{}`", self.statement))?;
            return Ok(());
        }
        if self.current.len() >= self.part_rows {
            self.full.push(std::mem::take(&mut self.current));
        }
        Ok(())
    }
}

impl<T: SerializeRow + Send + Sync + 'static> SinkWriter<T> for CassandraWriter<T> {
    type Committable = CassandraCommittable;
    type State = ();

    async fn write(&mut self, record: T) -> Result<()> {
        let timestamp = self.timestamp.as_ref().map(|f| f(&record));
        match &mut self.mode {
            Mode::Direct(writes) => writes.push(record, timestamp).await,
            Mode::WriteAhead(rows) => rows.append(&record, timestamp),
        }
    }

    /// Direct: wait for every write; a failure fails the checkpoint.
    async fn flush(&mut self, _end_of_input: bool) -> Result<()> {
        match &mut self.mode {
            Mode::Direct(writes) => writes.settle_all().await,
            Mode::WriteAhead(_) => Ok(()),
        }
    }

    /// Write-ahead: the rows since the last checkpoint, in parts.
    async fn prepare_commit(&mut self, checkpoint_id: u64) -> Result<Vec<CassandraCommittable>> {
        let Mode::WriteAhead(rows) = &mut self.mode else { return Ok(Vec::new()) };
        let mut parts = std::mem::take(&mut rows.full);
        parts.push(std::mem::take(&mut rows.current));
        Ok(CassandraCommittable::parts(checkpoint_id, rows.subtask, parts))
    }
}

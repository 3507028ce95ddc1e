//! The writer handle the runtime calls; the work happens in the background actor.

use std::sync::Arc;

use stream_core::api::SinkWriter;
use stream_core::metrics::SinkMetrics;
use stream_core::{Result, StreamError};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::actor::{Actor, Command};
use super::client::{AsyncSinkClient, sized};
use super::config::AsyncSinkConfig;
use crate::error::BaseError;

type Convert<T, E> = Arc<dyn Fn(T) -> Result<E> + Send + Sync>;

/// A [`SinkWriter`] that batches request entries, keeps up to
/// `max_in_flight_requests` requests going, retries failed entries with backoff under
/// AIMD rate limiting, applies back-pressure when `max_buffered_requests` entries wait,
/// and at a checkpoint waits for in-flight requests and snapshots the entries still
/// buffered (re-sent after a restore): at-least-once.
pub struct AsyncSinkWriter<T, C: AsyncSinkClient> {
    commands: mpsc::Sender<Command<C::Entry>>,
    actor: Option<JoinHandle<std::result::Result<(), BaseError>>>,
    client: Arc<C>,
    convert: Convert<T, C::Entry>,
    max_record_size: usize,
    snapshot: Vec<C::Entry>,
}

impl<T, C: AsyncSinkClient> AsyncSinkWriter<T, C> {
    /// A writer sending through `client`, converting records with `convert`, that
    /// first re-sends `restored` entries (from [`SinkWriter::snapshot_state`]).
    pub fn new(
        config: AsyncSinkConfig,
        client: Arc<C>,
        convert: impl Fn(T) -> Result<C::Entry> + Send + Sync + 'static,
        restored: Vec<C::Entry>,
    ) -> Self {
        Self::start(config, client, convert, restored, None)
    }

    /// Like [`AsyncSinkWriter::new`], reporting bytes sent, send time and failed
    /// entries to `metrics` (from [`stream_core::api::TaskContext::sink_metrics`]).
    pub fn with_metrics(
        config: AsyncSinkConfig,
        client: Arc<C>,
        convert: impl Fn(T) -> Result<C::Entry> + Send + Sync + 'static,
        restored: Vec<C::Entry>,
        metrics: SinkMetrics,
    ) -> Self {
        Self::start(config, client, convert, restored, Some(metrics))
    }

    fn start(
        config: AsyncSinkConfig,
        client: Arc<C>,
        convert: impl Fn(T) -> Result<C::Entry> + Send + Sync + 'static,
        restored: Vec<C::Entry>,
        metrics: Option<SinkMetrics>,
    ) -> Self {
        let (commands, rx) = mpsc::channel(4);
        let restored = sized(&*client, restored);
        let max_record_size = config.max_record_size_in_bytes;
        let actor = Actor::new(config, client.clone(), rx, restored, metrics);
        AsyncSinkWriter {
            commands,
            actor: Some(tokio::spawn(actor.run())),
            client,
            convert: Arc::new(convert),
            max_record_size,
            snapshot: Vec::new(),
        }
    }

    /// The actor's error when it has stopped.
    async fn actor_error(&mut self) -> StreamError {
        match self.actor.take() {
            Some(handle) => match handle.await {
                Ok(Err(e)) => e.into(),
                Ok(Ok(())) => BaseError::WriterGone.into(),
                Err(join) => BaseError::Fatal(format!("writer task failed: {join}")).into(),
            },
            None => BaseError::WriterGone.into(),
        }
    }

    async fn send(&mut self, command: Command<C::Entry>) -> Result<()> {
        if self.commands.send(command).await.is_err() {
            return Err(self.actor_error().await);
        }
        Ok(())
    }

    fn sized(&self, record: T) -> Result<(C::Entry, usize)> {
        let entry = (self.convert)(record)?;
        let size = self.client.entry_size(&entry);
        if size > self.max_record_size {
            return Err(BaseError::RecordTooLarge { size, limit: self.max_record_size }.into());
        }
        Ok((entry, size))
    }

    async fn flush_with(&mut self, drain: bool) -> Result<Vec<C::Entry>> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::Flush { drain, reply }).await?;
        match answer.await {
            Ok(remaining) => Ok(remaining),
            Err(_) => Err(self.actor_error().await),
        }
    }
}

impl<T, C: AsyncSinkClient> Drop for AsyncSinkWriter<T, C> {
    fn drop(&mut self) {
        if let Some(actor) = &self.actor {
            actor.abort();
        }
    }
}

impl<T: Send + 'static, C: AsyncSinkClient> SinkWriter<T> for AsyncSinkWriter<T, C> {
    type Committable = ();
    type State = C::Entry;

    async fn write(&mut self, record: T) -> Result<()> {
        let entry = self.sized(record)?;
        self.send(Command::Write(vec![entry])).await
    }

    async fn write_batch(&mut self, records: &mut Vec<T>) -> Result<()> {
        let mut entries = Vec::with_capacity(records.len());
        for record in records.drain(..) {
            entries.push(self.sized(record)?);
        }
        if entries.is_empty() {
            return Ok(());
        }
        self.send(Command::Write(entries)).await
    }

    /// At a checkpoint (`end_of_input == false`): wait for in-flight requests and keep
    /// the still-buffered entries for the snapshot. At the end of input: send
    /// everything and wait.
    async fn flush(&mut self, end_of_input: bool) -> Result<()> {
        self.snapshot = self.flush_with(end_of_input).await?;
        Ok(())
    }

    fn snapshot_state(&mut self, _checkpoint_id: u64) -> Result<Vec<C::Entry>> {
        Ok(std::mem::take(&mut self.snapshot))
    }
}

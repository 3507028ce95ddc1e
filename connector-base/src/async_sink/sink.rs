//! The `Sink` of every request/response connector: a connector describes its
//! destination as an [`AsyncSinkTarget`] (how to reach it, how to check it at start,
//! how a record becomes a request entry) and its sink type is
//! `AsyncSink<T, ItsTarget<T>>`.

use std::marker::PhantomData;
use std::sync::Arc;

use stream_core::Result;
use stream_core::api::{NoCommitter, Sink, TaskContext};

use super::client::AsyncSinkClient;
use super::config::AsyncSinkConfig;
use super::writer::AsyncSinkWriter;
use crate::DeliveryGuarantee;

/// The request entry of a target's client.
pub type EntryOf<T, G> = <<G as AsyncSinkTarget<T>>::Client as AsyncSinkClient>::Entry;

/// One destination of an [`AsyncSink`]: a connector implements it once.
pub trait AsyncSinkTarget<T>: Send + Sync + 'static {
    /// Sends the batches.
    type Client: AsyncSinkClient;

    /// The client of one writer subtask. Check here that the destination is there
    /// (the table, the stream, the server), so that a wrong name, endpoint or
    /// credential fails the job at the start with an error that names it.
    fn connect(&self, ctx: &TaskContext) -> impl Future<Output = Result<Self::Client>> + Send;

    /// One record as a request entry; an error fails the job and should name what is
    /// wrong with the record.
    fn convert(&self, record: T) -> Result<EntryOf<T, Self>>;

    /// The `connector` label of the sink's metrics (`kinesis`, `dynamodb`, ...).
    fn connector_name(&self) -> &'static str {
        "custom"
    }

    /// The guarantee the sink gives with this target (default at-least-once).
    fn guarantee(&self) -> DeliveryGuarantee {
        DeliveryGuarantee::AtLeastOnce
    }
}

/// A sink that batches, retries and checkpoints its buffered entries
/// ([`AsyncSinkWriter`], at-least-once) for any [`AsyncSinkTarget`]. It has no
/// commit phase: what a checkpoint covers was written before it completed.
pub struct AsyncSink<T, G> {
    target: Arc<G>,
    config: AsyncSinkConfig,
    records: PhantomData<fn(T)>,
}

impl<T, G: AsyncSinkTarget<T>> AsyncSink<T, G> {
    /// A sink writing to `target` with the batching options of `config`.
    pub fn new(target: G, config: AsyncSinkConfig) -> Self {
        AsyncSink { target: Arc::new(target), config, records: PhantomData }
    }

    /// The destination.
    pub fn target(&self) -> &G {
        &self.target
    }

    /// The batching options.
    pub fn config(&self) -> &AsyncSinkConfig {
        &self.config
    }

    /// The guarantee this sink gives.
    pub fn guarantee(&self) -> DeliveryGuarantee {
        self.target.guarantee()
    }
}

impl<T, G: std::fmt::Debug> std::fmt::Debug for AsyncSink<T, G> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The target's own Debug decides what is shown (never credentials).
        std::fmt::Debug::fmt(&self.target, f)
    }
}

impl<T: Send + 'static, G: AsyncSinkTarget<T>> Sink<T> for AsyncSink<T, G> {
    type Committable = ();
    type WriterState = EntryOf<T, G>;
    type Writer = AsyncSinkWriter<T, G::Client>;
    type Committer = NoCommitter<()>;

    async fn create_writer(&self, ctx: &TaskContext, restored: Vec<EntryOf<T, G>>) -> Result<Self::Writer> {
        let client = Arc::new(self.target.connect(ctx).await?);
        let target = self.target.clone();
        let convert = move |record: T| target.convert(record);
        Ok(AsyncSinkWriter::with_metrics(self.config.clone(), client, convert, restored, ctx.sink_metrics()))
    }

    async fn create_committer(&self, _ctx: &TaskContext) -> Result<NoCommitter<()>> {
        Ok(NoCommitter::default())
    }

    fn connector_name(&self) -> &'static str {
        self.target.connector_name()
    }
}

//! The async I/O operator's task (Flink's `AsyncWaitOperator`): up to `capacity`
//! requests in flight, results emitted in input order (ordered) or as they complete
//! (unordered), each request bounded by a timeout. At a barrier the inputs of the
//! requests whose results are not emitted yet go into the snapshot without waiting;
//! after a restore they are issued again.

use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures::stream::{FuturesOrdered, FuturesUnordered, StreamExt};

use super::attempt::TaskEnv;
use super::input_gate::{GateEvent, InputGate};
use super::output::BoxOutput;
use crate::api::TaskContext;
use crate::error::{Result, StreamError};
use crate::fault::FaultPoint;

/// Options of [`crate::DataStream::async_map`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AsyncOptions {
    /// Requests in flight per subtask; more input waits (back-pressure).
    pub capacity: usize,
    /// A request not done by then fails the task (and the job restarts).
    pub timeout: Duration,
    /// Emit results in input order (true) or as they complete (false).
    pub ordered: bool,
}

impl Default for AsyncOptions {
    fn default() -> Self {
        AsyncOptions { capacity: 100, timeout: Duration::from_secs(30), ordered: true }
    }
}

type Pending<U> = Pin<Box<dyn Future<Output = (u64, Result<U>)> + Send>>;

enum Queue<U> {
    Ordered(FuturesOrdered<Pending<U>>),
    Unordered(FuturesUnordered<Pending<U>>),
}

impl<U> Queue<U> {
    fn push(&mut self, f: Pending<U>) {
        match self {
            Queue::Ordered(q) => q.push_back(f),
            Queue::Unordered(q) => q.push(f),
        }
    }

    fn len(&self) -> usize {
        match self {
            Queue::Ordered(q) => q.len(),
            Queue::Unordered(q) => q.len(),
        }
    }

    async fn next(&mut self) -> Option<(u64, Result<U>)> {
        match self {
            Queue::Ordered(q) => q.next().await,
            Queue::Unordered(q) => q.next().await,
        }
    }
}

pub(crate) struct AsyncTask<T, U, F> {
    pub(crate) key: String,
    pub(crate) ctx: TaskContext,
    pub(crate) options: AsyncOptions,
    pub(crate) func: Arc<F>,
    pub(crate) gate: InputGate<T>,
    pub(crate) out: BoxOutput<U>,
    pub(crate) env: TaskEnv,
    pub(crate) restored: Vec<T>,
}

impl<T, U, F, Fut> AsyncTask<T, U, F>
where
    T: Clone + serde::Serialize + Send + Sync + 'static,
    U: Send + 'static,
    F: Fn(T) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<U>> + Send + 'static,
{
    fn issue(&self, queue: &mut Queue<U>, inflight: &mut BTreeMap<u64, T>, next_id: &mut u64, input: T) {
        let id = *next_id;
        *next_id += 1;
        inflight.insert(id, input.clone());
        let call = (self.func)(input);
        let timeout = self.options.timeout;
        queue.push(Box::pin(async move {
            match tokio::time::timeout(timeout, call).await {
                Ok(result) => (id, result),
                Err(_) => (
                    id,
                    Err(StreamError::TaskFailed {
                        task: "async operator".into(),
                        message: format!(
                            "a request timed out after {timeout:?} (raise the timeout or the service's capacity)"
                        ),
                    }),
                ),
            }
        }));
    }

    pub(crate) async fn run(mut self) -> Result<()> {
        let counters = self.env.metrics.task(&self.ctx.name, self.ctx.subtask);
        let mut queue = if self.options.ordered {
            Queue::Ordered(FuturesOrdered::new())
        } else {
            Queue::Unordered(FuturesUnordered::new())
        };
        let mut inflight: BTreeMap<u64, T> = BTreeMap::new();
        let mut next_id: u64 = 0;
        let mut emitted: Vec<U> = Vec::new();
        // Received but not yet issued (a batch may be larger than the capacity).
        let mut backlog: VecDeque<T> = std::mem::take(&mut self.restored).into();
        loop {
            while queue.len() < self.options.capacity {
                let Some(input) = backlog.pop_front() else { break };
                self.issue(&mut queue, &mut inflight, &mut next_id, input);
            }
            let accepting = backlog.is_empty() && queue.len() < self.options.capacity;
            tokio::select! {
                biased;
                Some((id, result)) = queue.next(), if queue.len() > 0 => {
                    inflight.remove(&id);
                    emitted.push(result?);
                    // Take every other result that is ready too, then send once.
                    while let Some(Some((id, result))) = futures::FutureExt::now_or_never(queue.next()) {
                        inflight.remove(&id);
                        emitted.push(result?);
                    }
                    self.out.collect_all(&mut emitted);
                    self.out.flush().await?;
                    counters.records_out(self.out.take_count());
                }
                event = self.gate.next(), if accepting => match event {
                    GateEvent::Records(batch) => {
                        counters.records_in(batch.len() as u64);
                        backlog.extend(batch);
                    }
                    GateEvent::Checkpoint(id) => {
                        self.env.faults.check(&self.ctx.name, self.ctx.subtask, FaultPoint::DuringSnapshot)?;
                        let pending: Vec<&T> = inflight.values().collect();
                        self.env.ack(&self.key, id, &pending)?;
                        self.out.barrier(id).await?;
                    }
                    GateEvent::EndOfData => {
                        // Every result goes out before the final checkpoint.
                        while let Some((id, result)) = queue.next().await {
                            inflight.remove(&id);
                            emitted.push(result?);
                        }
                        self.out.collect_all(&mut emitted);
                        self.out.end_of_data().await?;
                        self.env.drained(&self.key)?;
                    }
                    GateEvent::End => return self.out.end().await,
                    GateEvent::UpstreamLost => return Err(StreamError::ChannelClosed),
                },
            }
        }
    }
}

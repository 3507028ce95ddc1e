//! Outputs of a task: chained operators (map, filter, flat_map run in the producing
//! task, like Flink's operator chaining) ending in a channel output that batches
//! records per downstream channel.

use std::sync::Arc;

use async_trait::async_trait;
use tokio::sync::mpsc;

use super::event::Event;
use super::partition::Partitioner;
use crate::error::{Result, StreamError};

/// The output side of a task. `collect_all` buffers; the async methods send.
#[async_trait]
pub(crate) trait Output<T: Send>: Send {
    /// Take every record of `records` (leaving it empty); one call per batch.
    fn collect_all(&mut self, records: &mut Vec<T>);
    /// Send what is buffered.
    async fn flush(&mut self) -> Result<()>;
    /// Flush, then send checkpoint barrier `id` on every channel.
    async fn barrier(&mut self, id: u64) -> Result<()>;
    /// Flush, then tell every channel that no record follows (barriers still do).
    async fn end_of_data(&mut self) -> Result<()>;
    /// Flush, then signal the end of the stream on every channel.
    async fn end(&mut self) -> Result<()>;
    /// Records sent since the last call.
    fn take_count(&mut self) -> u64;
}

pub(crate) type BoxOutput<T> = Box<dyn Output<T>>;

/// Terminal output: batches per downstream channel, partitioned.
pub(crate) struct ChannelOutput<T> {
    senders: Vec<mpsc::Sender<Event<T>>>,
    buffers: Vec<Vec<T>>,
    partitioner: Partitioner<T>,
    next: usize,
    batch_size: usize,
    count: u64,
}

impl<T: Send + 'static> ChannelOutput<T> {
    pub(crate) fn new(senders: Vec<mpsc::Sender<Event<T>>>, partitioner: Partitioner<T>, batch_size: usize) -> Self {
        let buffers = match partitioner {
            Partitioner::Hash(_) => senders.iter().map(|_| Vec::with_capacity(batch_size)).collect(),
            Partitioner::Rebalance => vec![Vec::with_capacity(batch_size)],
        };
        ChannelOutput { senders, buffers, partitioner, next: 0, batch_size, count: 0 }
    }

    async fn send(&mut self, channel: usize, event: Event<T>) -> Result<()> {
        self.senders[channel].send(event).await.map_err(|_| StreamError::ChannelClosed)
    }
}

#[async_trait]
impl<T: Send + 'static> Output<T> for ChannelOutput<T> {
    fn collect_all(&mut self, records: &mut Vec<T>) {
        match &self.partitioner {
            Partitioner::Hash(router) => router.route_all(records, &mut self.buffers),
            Partitioner::Rebalance => self.buffers[0].append(records),
        }
    }

    async fn flush(&mut self) -> Result<()> {
        for i in 0..self.buffers.len() {
            if self.buffers[i].is_empty() {
                continue;
            }
            let batch = std::mem::replace(&mut self.buffers[i], Vec::with_capacity(self.batch_size));
            self.count += batch.len() as u64;
            let channel = match self.partitioner {
                Partitioner::Rebalance => {
                    self.next = (self.next + 1) % self.senders.len();
                    self.next
                }
                Partitioner::Hash(_) => i,
            };
            self.send(channel, Event::Records(batch)).await?;
        }
        Ok(())
    }

    async fn barrier(&mut self, id: u64) -> Result<()> {
        self.flush().await?;
        for channel in 0..self.senders.len() {
            self.send(channel, Event::Barrier(id)).await?;
        }
        Ok(())
    }

    async fn end_of_data(&mut self) -> Result<()> {
        self.flush().await?;
        for channel in 0..self.senders.len() {
            self.send(channel, Event::EndOfData).await?;
        }
        Ok(())
    }

    async fn end(&mut self) -> Result<()> {
        self.flush().await?;
        for channel in 0..self.senders.len() {
            self.send(channel, Event::End).await?;
        }
        Ok(())
    }

    fn take_count(&mut self) -> u64 {
        std::mem::take(&mut self.count)
    }
}

/// A chained stateless operator in front of another output.
pub(crate) struct ChainedOutput<U, F> {
    f: Arc<F>,
    inner: BoxOutput<U>,
    scratch: Vec<U>,
}

impl<U, F> ChainedOutput<U, F> {
    pub(crate) fn new(f: Arc<F>, inner: BoxOutput<U>) -> Self {
        ChainedOutput { f, inner, scratch: Vec::new() }
    }
}

/// The stateless operators that can be chained.
pub(crate) trait ChainFn<T, U>: Send + Sync + 'static {
    fn apply(&self, record: T, out: &mut Vec<U>);
}

/// `map`
pub(crate) struct MapFn<F>(pub(crate) F);
/// `filter`
pub(crate) struct FilterFn<F>(pub(crate) F);
/// `flat_map`
pub(crate) struct FlatMapFn<F>(pub(crate) F);

impl<T, U, F: Fn(T) -> U + Send + Sync + 'static> ChainFn<T, U> for MapFn<F> {
    #[inline]
    fn apply(&self, record: T, out: &mut Vec<U>) {
        out.push((self.0)(record));
    }
}

impl<T, F: Fn(&T) -> bool + Send + Sync + 'static> ChainFn<T, T> for FilterFn<F> {
    #[inline]
    fn apply(&self, record: T, out: &mut Vec<T>) {
        if (self.0)(&record) {
            out.push(record);
        }
    }
}

impl<T, U, I, F> ChainFn<T, U> for FlatMapFn<F>
where
    I: IntoIterator<Item = U>,
    F: Fn(T) -> I + Send + Sync + 'static,
{
    #[inline]
    fn apply(&self, record: T, out: &mut Vec<U>) {
        out.extend((self.0)(record));
    }
}

#[async_trait]
impl<T: Send, U: Send + 'static, F: ChainFn<T, U>> Output<T> for ChainedOutput<U, F> {
    fn collect_all(&mut self, records: &mut Vec<T>) {
        for record in records.drain(..) {
            self.f.apply(record, &mut self.scratch);
        }
        self.inner.collect_all(&mut self.scratch);
    }

    async fn flush(&mut self) -> Result<()> {
        self.inner.flush().await
    }

    async fn barrier(&mut self, id: u64) -> Result<()> {
        self.inner.barrier(id).await
    }

    async fn end_of_data(&mut self) -> Result<()> {
        self.inner.end_of_data().await
    }

    async fn end(&mut self) -> Result<()> {
        self.inner.end().await
    }

    fn take_count(&mut self) -> u64 {
        self.inner.take_count()
    }
}

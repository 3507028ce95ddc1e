//! A stream's node, built once for all its consumers: each consumer registers one
//! output per subtask; when the node is built, a stream with one consumer hands it
//! its outputs, one with several copies every record to each (its records must be
//! `Clone`), and one whose side outputs alone are read drops its main records.

use std::any::Any;
use std::sync::{Arc, OnceLock};

use crate::error::{Result, StreamError};
use crate::runtime::attempt::{AttemptCtx, Deferred};
use crate::runtime::fanout::{Broadcast, Discard};
use crate::runtime::output::BoxOutput;

use super::Node;

type Fanout<T> = fn(Vec<BoxOutput<T>>) -> BoxOutput<T>;

fn broadcast<T: Clone + Send + 'static>(outputs: Vec<BoxOutput<T>>) -> BoxOutput<T> {
    Box::new(Broadcast::new(outputs))
}

pub(crate) struct Shared<T> {
    /// Its place in the order of definition: it is built after every later one.
    pub(crate) seq: u64,
    /// What it is called in errors.
    name: String,
    inner: Arc<dyn Node<T>>,
    /// Set when the stream is cloned (which needs `T: Clone`).
    fanout: OnceLock<Fanout<T>>,
}

impl<T: Send + 'static> Shared<T> {
    pub(crate) fn new(seq: u64, name: &str, inner: Arc<dyn Node<T>>) -> Arc<Self> {
        Arc::new(Shared { seq, name: name.to_string(), inner, fanout: OnceLock::new() })
    }

    /// Allow several consumers: each gets a copy of every record.
    pub(crate) fn allow_fan_out(&self)
    where
        T: Clone,
    {
        self.fanout.get_or_init(|| broadcast::<T>);
    }

    fn pending<'a>(&self, ctx: &'a mut AttemptCtx) -> Result<&'a mut PendingBuild<T>> {
        let entry = ctx.deferred.entry(self.seq).or_insert_with(|| {
            Box::new(PendingBuild {
                name: self.name.clone(),
                inner: self.inner.clone(),
                fanout: self.fanout.get().copied(),
                consumers: Vec::new(),
                width: 0,
            })
        });
        entry.as_any().downcast_mut::<PendingBuild<T>>().ok_or_else(|| {
            StreamError::invalid("stream", &self.name, "two streams of different types share one place in the graph")
        })
    }

    /// Make sure the node is built with `width` subtasks even if no consumer
    /// registers (its side outputs are read, its main output is not).
    pub(crate) fn require(&self, ctx: &mut AttemptCtx, width: usize) -> Result<()> {
        let pending = self.pending(ctx)?;
        pending.width = pending.width.max(width);
        Ok(())
    }
}

impl<T: Send + 'static> Node<T> for Shared<T> {
    fn build(&self, ctx: &mut AttemptCtx, outputs: Vec<BoxOutput<T>>) -> Result<()> {
        let pending = self.pending(ctx)?;
        pending.width = pending.width.max(outputs.len());
        pending.consumers.push(outputs);
        Ok(())
    }
}

struct PendingBuild<T> {
    name: String,
    inner: Arc<dyn Node<T>>,
    fanout: Option<Fanout<T>>,
    consumers: Vec<Vec<BoxOutput<T>>>,
    width: usize,
}

impl<T: Send + 'static> Deferred for PendingBuild<T> {
    fn build(mut self: Box<Self>, ctx: &mut AttemptCtx) -> Result<()> {
        let width = self.width;
        let outputs: Vec<BoxOutput<T>> = match self.consumers.len() {
            0 => (0..width).map(|_| Box::new(Discard) as BoxOutput<T>).collect(),
            1 => self.consumers.pop().unwrap_or_default(),
            n => {
                let fanout = self.fanout.ok_or_else(|| {
                    StreamError::invalid(
                        "stream",
                        &self.name,
                        format!("{n} operators read it, which copies its records; clone the stream to allow it"),
                    )
                })?;
                if self.consumers.iter().any(|c| c.len() != width) {
                    return Err(StreamError::invalid(
                        "parallelism",
                        &self.name,
                        "the operators reading this stream expect different parallelisms of it; set its \
                         parallelism before using it twice",
                    ));
                }
                let mut per_subtask: Vec<Vec<BoxOutput<T>>> = (0..width).map(|_| Vec::with_capacity(n)).collect();
                for consumer in self.consumers.drain(..) {
                    for (subtask, output) in consumer.into_iter().enumerate() {
                        per_subtask[subtask].push(output);
                    }
                }
                per_subtask.into_iter().map(fanout).collect()
            }
        };
        self.inner.build(ctx, outputs)
    }

    fn as_any(&mut self) -> &mut dyn Any {
        self
    }
}

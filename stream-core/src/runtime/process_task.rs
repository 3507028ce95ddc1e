//! Tasks between source and sink: the keyed process function with checkpointed
//! per-key state, and the plain exchange (rebalance to another parallelism).

use std::hash::Hash;
use std::sync::Arc;

use rustc_hash::FxHashMap;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::attempt::TaskEnv;
use super::input_gate::{GateEvent, InputGate};
use super::output::BoxOutput;
use super::side_output::SideOutputs;
use crate::api::{Collector, KeyedProcessFunction, SideRecords, TaskContext};
use crate::error::{Result, StreamError};
use crate::fault::FaultPoint;

/// Keyed state of one subtask.
pub(crate) type KeyedState<K, S> = FxHashMap<K, S>;

pub(crate) struct KeyedTask<K, I, F: KeyedProcessFunction<K, I>, KF> {
    pub(crate) key: String,
    pub(crate) ctx: TaskContext,
    pub(crate) key_fn: Arc<KF>,
    pub(crate) func: Arc<F>,
    pub(crate) state: KeyedState<K, F::State>,
    pub(crate) gate: InputGate<I>,
    pub(crate) out: BoxOutput<F::Output>,
    pub(crate) sides: SideOutputs,
    pub(crate) env: TaskEnv,
}

impl<K, I, F, KF> KeyedTask<K, I, F, KF>
where
    KF: Fn(&I) -> K + Send + Sync + 'static,
    K: Hash + Eq + Clone + Serialize + DeserializeOwned + Send + 'static,
    I: Send + 'static,
    F: KeyedProcessFunction<K, I>,
{
    pub(crate) async fn run(mut self) -> Result<()> {
        let counters = self.env.metrics.task(&self.ctx.name, self.ctx.subtask);
        let threshold = self.env.faults.record_threshold(&self.ctx.name, self.ctx.subtask);
        let mut seen: u64 = 0;
        let mut emitted: Vec<F::Output> = Vec::new();
        let mut side: SideRecords = Vec::new();
        loop {
            match self.gate.next().await {
                GateEvent::Records(batch) => {
                    let n = batch.len() as u64;
                    let mut out = Collector::with_side_outputs(&mut emitted, &mut side);
                    for record in batch {
                        let key = (self.key_fn)(&record);
                        match self.state.get_mut(&key) {
                            Some(state) => self.func.process(&key, state, record, &mut out)?,
                            None => {
                                let state = self.state.entry(key.clone()).or_default();
                                self.func.process(&key, state, record, &mut out)?;
                            }
                        }
                    }
                    self.out.collect_all(&mut emitted);
                    self.out.flush().await?;
                    if !side.is_empty() {
                        self.sides.route(&mut side)?;
                        self.sides.flush().await?;
                    }
                    counters.records_in(n);
                    counters.records_out(self.out.take_count());
                    seen += n;
                    if let Some(t) = threshold.filter(|t| seen >= *t) {
                        self.env.faults.check(&self.ctx.name, self.ctx.subtask, FaultPoint::AfterRecords(t))?;
                    }
                }
                GateEvent::Checkpoint(id) => {
                    self.env.faults.check(&self.ctx.name, self.ctx.subtask, FaultPoint::DuringSnapshot)?;
                    {
                        let entries: Vec<(&K, &F::State)> = self.state.iter().collect();
                        self.env.ack(&self.key, id, &entries)?;
                    }
                    self.out.barrier(id).await?;
                    self.sides.barrier(id).await?;
                }
                GateEvent::EndOfData => {
                    self.out.end_of_data().await?;
                    self.sides.end_of_data().await?;
                    self.env.drained(&self.key)?;
                }
                GateEvent::End => {
                    self.out.end().await?;
                    return self.sides.end().await;
                }
                GateEvent::UpstreamLost => return Err(StreamError::ChannelClosed),
            }
        }
    }
}

/// A stateless task that moves records to another parallelism.
pub(crate) async fn run_exchange<T: Send + 'static>(
    key: String,
    ctx: TaskContext,
    mut gate: InputGate<T>,
    mut out: BoxOutput<T>,
    env: TaskEnv,
) -> Result<()> {
    let counters = env.metrics.task(&ctx.name, ctx.subtask);
    loop {
        match gate.next().await {
            GateEvent::Records(mut batch) => {
                counters.records_in(batch.len() as u64);
                out.collect_all(&mut batch);
                out.flush().await?;
                counters.records_out(out.take_count());
            }
            GateEvent::Checkpoint(id) => {
                env.ack(&key, id, &())?;
                out.barrier(id).await?;
            }
            GateEvent::EndOfData => {
                out.end_of_data().await?;
                env.drained(&key)?;
            }
            GateEvent::End => return out.end().await,
            GateEvent::UpstreamLost => return Err(StreamError::ChannelClosed),
        }
    }
}

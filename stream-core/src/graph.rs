//! The job graph: nodes that, for each execution attempt, create the channels and
//! spawn the subtasks of their stage and then build their upstream.

use std::hash::Hash;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::mpsc;

use crate::api::{KeyedProcessFunction, Sink, Source, SplitEnumerator, TaskContext};
use crate::error::Result;
use crate::runtime::async_task::{AsyncOptions, AsyncTask};
use crate::runtime::attempt::AttemptCtx;
use crate::runtime::driver::{EnumeratorDriver, SourceControl, SourceDriver};
use crate::runtime::input_gate::InputGate;
use crate::runtime::output::{BoxOutput, ChainFn, ChainedOutput, ChannelOutput};
use crate::runtime::partition::{HashByKey, Partitioner, key_owner};
use crate::runtime::process_task::{KeyedState, KeyedTask, run_exchange};
use crate::runtime::sink_output::{SinkOutput, SinkShared, SinkState, run_committer};
use crate::runtime::source_task::run_source;
use crate::stage::StageInfo;
use crate::state::StateBlob;

/// Builds the part of the graph that ends in `outputs` (one per subtask).
pub(crate) trait Node<T>: Send + Sync + 'static {
    fn build(&self, ctx: &mut AttemptCtx, outputs: Vec<BoxOutput<T>>) -> Result<()>;
}

/// Create the channels between an upstream of `p` subtasks and `q` downstream
/// subtasks, build the upstream, and return the downstream input gates.
fn connect<T: Send + 'static>(
    ctx: &mut AttemptCtx,
    upstream: &dyn Node<T>,
    p: usize,
    q: usize,
    partitioner: Partitioner<T>,
) -> Result<Vec<InputGate<T>>> {
    let mut receivers: Vec<Vec<mpsc::Receiver<_>>> = (0..q).map(|_| Vec::new()).collect();
    let mut outputs: Vec<BoxOutput<T>> = Vec::with_capacity(p);
    for _ in 0..p {
        let mut senders = Vec::with_capacity(q);
        for inputs in receivers.iter_mut() {
            let (tx, rx) = mpsc::channel(ctx.channel_capacity);
            senders.push(tx);
            inputs.push(rx);
        }
        outputs.push(Box::new(ChannelOutput::new(senders, partitioner.clone(), ctx.batch_size)));
    }
    upstream.build(ctx, outputs)?;
    Ok(receivers.into_iter().map(|rxs| InputGate::new(rxs, ctx.mode)).collect())
}

fn restored_value<V: DeserializeOwned>(what: &str, state: &StateBlob) -> Result<V> {
    state.decode(what)
}

// ---- source -------------------------------------------------------------------

pub(crate) struct SourceNode<S: Source> {
    pub(crate) source: Arc<S>,
    pub(crate) stage: StageInfo,
}

impl<S: Source> Node<S::Output> for SourceNode<S> {
    fn build(&self, ctx: &mut AttemptCtx, outputs: Vec<BoxOutput<S::Output>>) -> Result<()> {
        let p = outputs.len();
        let mut enumerator_state: Option<S::EnumeratorState> = None;
        let mut per_reader: Vec<Vec<S::Split>> = (0..p).map(|_| Vec::new()).collect();
        let mut given_back: Vec<(usize, Vec<S::Split>)> = Vec::new();
        if let Some(cp) = &ctx.restored {
            if let Some(value) = &cp.enumerator {
                enumerator_state = Some(restored_value("source enumerator", value)?);
            }
            let states = cp.stage_states(&self.stage.id);
            let same_parallelism = states.len() == p;
            for (old_subtask, value) in states {
                let splits: Vec<S::Split> = restored_value(&self.stage.task_key(old_subtask), value)?;
                if same_parallelism {
                    per_reader[old_subtask] = splits;
                } else if !splits.is_empty() {
                    given_back.push((old_subtask, splits));
                }
            }
        }
        let mut controls = Vec::with_capacity(p);
        for (subtask, (out, restored)) in outputs.into_iter().zip(per_reader).enumerate() {
            let (tx, rx) = mpsc::unbounded_channel::<SourceControl<S::Split>>();
            if !restored.is_empty() {
                let _ = tx.send(SourceControl::AddSplits(restored));
            }
            controls.push(tx);
            let tctx =
                TaskContext { connector: self.source.connector_name(), ..ctx.task_context(&self.stage, subtask, p) };
            let key = self.stage.task_key(subtask);
            let source = self.source.clone();
            let env = ctx.env.clone();
            ctx.register_data_task(&key);
            ctx.spawn(key.clone(), async move {
                let reader: S::Reader = source.create_reader(&tctx).await?;
                run_source::<S::Reader>(key, tctx, reader, out, rx, env).await
            });
        }
        let source = self.source.clone();
        ctx.driver = Some(Box::pin(async move {
            let mut enumerator = source.create_enumerator(p, enumerator_state).await?;
            for (old_subtask, splits) in given_back {
                enumerator.add_splits_back(splits, old_subtask);
            }
            Ok(Box::new(SourceDriver::new(enumerator, controls)) as Box<dyn EnumeratorDriver>)
        }));
        Ok(())
    }
}

// ---- chained stateless operators ----------------------------------------------

pub(crate) struct ChainNode<T, F> {
    pub(crate) upstream: Arc<dyn Node<T>>,
    pub(crate) f: Arc<F>,
}

impl<T: Send + 'static, U: Send + 'static, F: ChainFn<T, U>> Node<U> for ChainNode<T, F> {
    fn build(&self, ctx: &mut AttemptCtx, outputs: Vec<BoxOutput<U>>) -> Result<()> {
        let chained: Vec<BoxOutput<T>> = outputs
            .into_iter()
            .map(|inner| Box::new(ChainedOutput::new(self.f.clone(), inner)) as BoxOutput<T>)
            .collect();
        self.upstream.build(ctx, chained)
    }
}

// ---- exchange (rebalance) -----------------------------------------------------

pub(crate) struct ExchangeNode<T> {
    pub(crate) upstream: Arc<dyn Node<T>>,
    pub(crate) upstream_parallelism: usize,
    pub(crate) stage: StageInfo,
}

impl<T: Send + 'static> Node<T> for ExchangeNode<T> {
    fn build(&self, ctx: &mut AttemptCtx, outputs: Vec<BoxOutput<T>>) -> Result<()> {
        let q = outputs.len();
        let gates = connect(ctx, &*self.upstream, self.upstream_parallelism, q, Partitioner::Rebalance)?;
        for (subtask, (gate, out)) in gates.into_iter().zip(outputs).enumerate() {
            let tctx = ctx.task_context(&self.stage, subtask, q);
            let key = self.stage.task_key(subtask);
            let env = ctx.env.clone();
            ctx.register_data_task(&key);
            ctx.spawn(key.clone(), run_exchange(key, tctx, gate, out, env));
        }
        Ok(())
    }
}

// ---- async I/O ----------------------------------------------------------------

pub(crate) struct AsyncNode<T, F> {
    pub(crate) upstream: Arc<dyn Node<T>>,
    pub(crate) upstream_parallelism: usize,
    pub(crate) options: AsyncOptions,
    pub(crate) func: Arc<F>,
    pub(crate) stage: StageInfo,
}

impl<T, U, F, Fut> Node<U> for AsyncNode<T, F>
where
    T: Clone + Serialize + DeserializeOwned + Send + Sync + 'static,
    U: Send + 'static,
    F: Fn(T) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<U>> + Send + 'static,
{
    fn build(&self, ctx: &mut AttemptCtx, outputs: Vec<BoxOutput<U>>) -> Result<()> {
        let q = outputs.len();
        let gates = connect(ctx, &*self.upstream, self.upstream_parallelism, q, Partitioner::Rebalance)?;
        // In-flight inputs of the restored checkpoint are issued again; after a
        // rescale they are spread round robin.
        let mut restored: Vec<Vec<T>> = (0..q).map(|_| Vec::new()).collect();
        if let Some(cp) = &ctx.restored {
            for (i, (old_subtask, value)) in cp.stage_states(&self.stage.id).into_iter().enumerate() {
                let inputs: Vec<T> = restored_value(&self.stage.task_key(old_subtask), value)?;
                let target = if old_subtask < q { old_subtask } else { i % q };
                restored[target].extend(inputs);
            }
        }
        for (subtask, ((gate, out), restored)) in gates.into_iter().zip(outputs).zip(restored).enumerate() {
            let task = AsyncTask {
                key: self.stage.task_key(subtask),
                ctx: ctx.task_context(&self.stage, subtask, q),
                options: self.options,
                func: self.func.clone(),
                gate,
                out,
                env: ctx.env.clone(),
                restored,
            };
            ctx.register_data_task(&task.key);
            ctx.spawn(task.key.clone(), task.run());
        }
        Ok(())
    }
}

// ---- keyed process function ---------------------------------------------------

pub(crate) struct KeyedProcessNode<K, I, F, KF> {
    pub(crate) upstream: Arc<dyn Node<I>>,
    pub(crate) upstream_parallelism: usize,
    pub(crate) key_fn: Arc<KF>,
    pub(crate) func: Arc<F>,
    pub(crate) stage: StageInfo,
    pub(crate) _key: std::marker::PhantomData<fn() -> K>,
}

impl<K, I, F, KF> Node<F::Output> for KeyedProcessNode<K, I, F, KF>
where
    K: Hash + Eq + Clone + Serialize + DeserializeOwned + Send + Sync + 'static,
    I: Send + 'static,
    F: KeyedProcessFunction<K, I>,
    KF: Fn(&I) -> K + Send + Sync + 'static,
{
    fn build(&self, ctx: &mut AttemptCtx, outputs: Vec<BoxOutput<F::Output>>) -> Result<()> {
        let q = outputs.len();
        let key_fn = self.key_fn.clone();
        let hash = Partitioner::Hash(Arc::new(HashByKey(move |record: &I| key_fn(record))));
        let gates = connect(ctx, &*self.upstream, self.upstream_parallelism, q, hash)?;
        // Keyed state is re-distributed by key on restore, so the parallelism may change.
        let mut states: Vec<KeyedState<K, F::State>> = (0..q).map(|_| KeyedState::default()).collect();
        if let Some(cp) = &ctx.restored {
            for (old_subtask, value) in cp.stage_states(&self.stage.id) {
                let entries: Vec<(K, F::State)> = restored_value(&self.stage.task_key(old_subtask), value)?;
                for (key, state) in entries {
                    states[key_owner(&key, q)].insert(key, state);
                }
            }
        }
        for (subtask, ((gate, out), state)) in gates.into_iter().zip(outputs).zip(states).enumerate() {
            let task = KeyedTask {
                key: self.stage.task_key(subtask),
                ctx: ctx.task_context(&self.stage, subtask, q),
                key_fn: self.key_fn.clone(),
                func: self.func.clone(),
                state,
                gate,
                out,
                env: ctx.env.clone(),
            };
            ctx.register_data_task(&task.key);
            ctx.spawn(task.key.clone(), task.run());
        }
        Ok(())
    }
}

// ---- sink ---------------------------------------------------------------------

pub(crate) struct SinkNode<T, S> {
    pub(crate) upstream: Arc<dyn Node<T>>,
    pub(crate) upstream_parallelism: usize,
    pub(crate) sink: Arc<S>,
    pub(crate) stage: StageInfo,
}

impl<T: Send + 'static, S: Sink<T>> SinkNode<T, S> {
    /// The writers are chained into the upstream tasks (behind a rebalance stage when
    /// the parallelism differs); a committer task per subtask commits.
    pub(crate) fn build(&self, ctx: &mut AttemptCtx, q: usize) -> Result<()> {
        let stage = StageInfo { parallelism: q, ..self.stage.clone() };
        // Restored states go back to the same subtask, or round robin after a rescale.
        let mut writer_states: Vec<Vec<S::WriterState>> = (0..q).map(|_| Vec::new()).collect();
        let mut pending: Vec<Vec<(u64, Vec<S::Committable>)>> = (0..q).map(|_| Vec::new()).collect();
        if let Some(cp) = &ctx.restored {
            for (i, (old_subtask, value)) in cp.stage_states(&stage.id).into_iter().enumerate() {
                let state: SinkState<S::WriterState, S::Committable> =
                    restored_value(&stage.task_key(old_subtask), value)?;
                let target = if old_subtask < q { old_subtask } else { i % q };
                writer_states[target].extend(state.writer);
                pending[target].extend(state.pending);
            }
        }
        let mut outputs: Vec<BoxOutput<T>> = Vec::with_capacity(q);
        for (subtask, (restored, pending)) in writer_states.into_iter().zip(pending).enumerate() {
            let tctx = TaskContext { connector: self.sink.connector_name(), ..ctx.task_context(&stage, subtask, q) };
            let key = stage.task_key(subtask);
            let shared = SinkShared::new(pending, tctx.sink_metrics());
            outputs.push(Box::new(SinkOutput::<T, S>::new(
                self.sink.clone(),
                key.clone(),
                tctx.clone(),
                restored,
                shared.clone(),
                ctx.env.clone(),
            )));
            ctx.expect_acks(&key);
            let sink = self.sink.clone();
            let env = ctx.env.clone();
            let committer_key = format!("{key}/committer");
            ctx.spawn(committer_key.clone(), async move {
                let committer = sink.create_committer(&tctx).await?;
                run_committer(committer_key, tctx, committer, shared, env).await
            });
        }
        if q == self.upstream_parallelism {
            self.upstream.build(ctx, outputs)
        } else {
            let exchange = ExchangeNode {
                upstream: self.upstream.clone(),
                upstream_parallelism: self.upstream_parallelism,
                stage: StageInfo::new(
                    format!("{}-rebalance", stage.id),
                    &format!("{}-rebalance", stage.name),
                    q,
                    false,
                ),
            };
            exchange.build(ctx, outputs)
        }
    }
}

//! The operators between sources and sinks: chained stateless ones, the exchange
//! (rebalance), async I/O and the keyed process function.

use std::hash::Hash;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{Node, connect, restored_value};
use crate::api::KeyedProcessFunction;
use crate::error::{Result, StreamError};
use crate::runtime::async_task::{AsyncOptions, AsyncTask};
use crate::runtime::attempt::AttemptCtx;
use crate::runtime::output::{BoxOutput, ChainFn, ChainedOutput};
use crate::runtime::partition::{HashByKey, Partitioner, key_owner};
use crate::runtime::process_task::{KeyedState, KeyedTask, run_exchange};
use crate::runtime::side_output::{SideOutput, SideOutputs};
use crate::stage::StageInfo;

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
        let stage = ctx.stage(&self.stage);
        let gates = connect(ctx, &*self.upstream, self.upstream_parallelism, q, Partitioner::Rebalance)?;
        for (subtask, (gate, out)) in gates.into_iter().zip(outputs).enumerate() {
            let tctx = ctx.task_context(&stage, subtask, q);
            let key = stage.task_key(subtask);
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
        let stage = ctx.stage(&self.stage);
        let gates = connect(ctx, &*self.upstream, self.upstream_parallelism, q, Partitioner::Rebalance)?;
        // In-flight inputs of the restored checkpoint are issued again; after a
        // rescale they are spread round robin.
        let mut restored: Vec<Vec<T>> = (0..q).map(|_| Vec::new()).collect();
        if let Some(cp) = &ctx.restored {
            for (i, (old_subtask, value)) in cp.stage_states(&stage.id).into_iter().enumerate() {
                let inputs: Vec<T> = restored_value(&stage.task_key(old_subtask), value)?;
                if ctx.restore_mode.is_rescaled() && !inputs.is_empty() {
                    // Every new replica would issue them again.
                    return Err(StreamError::permanent(StreamError::invalid(
                        "rescale_from",
                        format!("{} inputs in flight", inputs.len()),
                        format!(
                            "stage `{}` holds inputs in flight in the savepoints; stop the old replicas with \
                             stop_with_savepoint, which drains them",
                            stage.name
                        ),
                    )));
                }
                let target = if old_subtask < q { old_subtask } else { i % q };
                restored[target].extend(inputs);
            }
        }
        for (subtask, ((gate, out), restored)) in gates.into_iter().zip(outputs).zip(restored).enumerate() {
            let task = AsyncTask {
                key: stage.task_key(subtask),
                ctx: ctx.task_context(&stage, subtask, q),
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
    /// The `seq` of the stream this operator makes (its side outputs register there).
    pub(crate) seq: u64,
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
        let stage = ctx.stage(&self.stage);
        let mut sides = side_outputs(ctx, self.seq, q, &stage)?;
        let key_fn = self.key_fn.clone();
        let hash = Partitioner::Hash(Arc::new(HashByKey(move |record: &I| key_fn(record))));
        let gates = connect(ctx, &*self.upstream, self.upstream_parallelism, q, hash)?;
        // Keyed state is re-distributed by key on restore, so the parallelism may change;
        // a rescaled replica keeps the keys it now owns.
        let mut states: Vec<KeyedState<K, F::State>> = (0..q).map(|_| KeyedState::default()).collect();
        if let Some(cp) = &ctx.restored {
            let keep = ctx.restore_mode.rescaled_keys();
            for (old_subtask, value) in cp.stage_states(&stage.id) {
                let entries: Vec<(K, F::State)> = restored_value(&stage.task_key(old_subtask), value)?;
                for (key, state) in entries.into_iter().filter(|(key, _)| keep.is_none_or(|keys| keys.owns(key))) {
                    states[key_owner(&key, q)].insert(key, state);
                }
            }
        }
        for (subtask, ((gate, out), state)) in gates.into_iter().zip(outputs).zip(states).enumerate() {
            let task = KeyedTask {
                key: stage.task_key(subtask),
                ctx: ctx.task_context(&stage, subtask, q),
                key_fn: self.key_fn.clone(),
                func: self.func.clone(),
                state,
                gate,
                out,
                sides: SideOutputs::new(sides.pop().unwrap_or_default()),
                env: ctx.env.clone(),
            };
            ctx.register_data_task(&task.key);
            ctx.spawn(task.key.clone(), task.run());
        }
        Ok(())
    }
}

/// The side outputs registered for the stream `seq`, per subtask, last subtask first.
fn side_outputs(ctx: &mut AttemptCtx, seq: u64, q: usize, stage: &StageInfo) -> Result<Vec<Vec<Box<dyn SideOutput>>>> {
    let mut per_subtask: Vec<Vec<Box<dyn SideOutput>>> = (0..q).map(|_| Vec::new()).collect();
    for registration in ctx.side_outputs.remove(&seq).unwrap_or_default() {
        if registration.len() != q {
            return Err(StreamError::invalid(
                "parallelism",
                registration.len(),
                format!("a side output of `{}` expects another parallelism than its {q} subtasks", stage.name),
            ));
        }
        for (subtask, side) in registration.into_iter().enumerate() {
            per_subtask[subtask].push(side);
        }
    }
    per_subtask.reverse();
    Ok(per_subtask)
}

//! A sink: writers chained into the tasks that feed it, a committer per subtask.

use std::sync::Arc;

use super::{ExchangeNode, Node, restored_value};
use crate::api::{Sink, TaskContext};
use crate::error::Result;
use crate::runtime::attempt::AttemptCtx;
use crate::runtime::output::BoxOutput;
use crate::runtime::sink_output::{SinkOutput, SinkShared, SinkState, run_committer};
use crate::stage::StageInfo;

pub(crate) struct SinkNode<T, S> {
    pub(crate) upstream: Arc<dyn Node<T>>,
    pub(crate) upstream_parallelism: usize,
    pub(crate) sink: Arc<S>,
    pub(crate) stage: StageInfo,
}

impl<T: Send + 'static, S: Sink<T>> SinkNode<T, S> {
    /// The writers are chained into the upstream tasks (behind a rebalance stage when
    /// the parallelism differs); a committer task per subtask commits.
    pub(crate) fn build(&self, ctx: &mut AttemptCtx) -> Result<()> {
        let stage = ctx.stage(&self.stage);
        let q = stage.parallelism;
        // Restored states go back to the same subtask, or round robin after a rescale.
        let mut writer_states: Vec<Vec<S::WriterState>> = (0..q).map(|_| Vec::new()).collect();
        let mut pending: Vec<Vec<(u64, Vec<S::Committable>)>> = (0..q).map(|_| Vec::new()).collect();
        // A rescaled job's sinks start afresh: the old replicas' savepoints ended
        // their writing and were committed before those jobs ended.
        if let Some(cp) = ctx.restored.as_ref().filter(|_| !ctx.restore_mode.is_rescaled()) {
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

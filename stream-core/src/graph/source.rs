//! A source stage: one reader task per subtask, and its enumerator's driver.

use std::sync::Arc;

use tokio::sync::mpsc;

use super::{Node, restored_value};
use crate::api::{Source, SplitEnumerator, TaskContext};
use crate::error::Result;
use crate::runtime::attempt::AttemptCtx;
use crate::runtime::driver::{EnumeratorDriver, SourceControl, SourceDriver};
use crate::runtime::output::BoxOutput;
use crate::runtime::source_task::run_source;
use crate::stage::StageInfo;

pub(crate) struct SourceNode<S: Source> {
    pub(crate) source: Arc<S>,
    pub(crate) stage: StageInfo,
}

impl<S: Source> Node<S::Output> for SourceNode<S> {
    fn build(&self, ctx: &mut AttemptCtx, outputs: Vec<BoxOutput<S::Output>>) -> Result<()> {
        let p = outputs.len();
        let stage = ctx.stage(&self.stage);
        let source_index = ctx.drivers.len();
        let mut enumerator_state: Option<S::EnumeratorState> = None;
        let mut per_reader: Vec<Vec<S::Split>> = (0..p).map(|_| Vec::new()).collect();
        let mut given_back: Vec<(usize, Vec<S::Split>)> = Vec::new();
        // A rescaled job's sources start afresh: the old replicas' splits are owned anew.
        if let Some(cp) = ctx.restored.as_ref().filter(|_| !ctx.restore_mode.is_rescaled()) {
            if let Some(value) = cp.tasks.get(&stage.enumerator_key()) {
                enumerator_state = Some(restored_value(&stage.enumerator_key(), value)?);
            }
            let states = cp.stage_states(&stage.id);
            let same_parallelism = states.len() == p;
            for (old_subtask, value) in states {
                let splits: Vec<S::Split> = restored_value(&stage.task_key(old_subtask), value)?;
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
            let tctx = TaskContext { connector: self.source.connector_name(), ..ctx.task_context(&stage, subtask, p) };
            let key = stage.task_key(subtask);
            let source = self.source.clone();
            let env = ctx.env.clone();
            ctx.register_data_task(&key);
            ctx.spawn(key.clone(), async move {
                let reader: S::Reader = source.create_reader(&tctx).await?;
                run_source::<S::Reader>(key, source_index, tctx, reader, out, rx, env).await
            });
        }
        let (source, replica) = (self.source.clone(), ctx.env.replica);
        ctx.drivers.push((
            stage.enumerator_key(),
            Box::pin(async move {
                let mut enumerator = source.create_enumerator(p, enumerator_state).await?;
                for (old_subtask, splits) in given_back {
                    enumerator.add_splits_back(splits, old_subtask);
                }
                Ok(Box::new(SourceDriver::new(enumerator, controls, replica)) as Box<dyn EnumeratorDriver>)
            }),
        ));
        Ok(())
    }
}

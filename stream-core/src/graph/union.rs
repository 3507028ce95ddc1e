//! Nodes without a task of their own: a union hands each input its share of the
//! outputs (the next task reads all of them through one input gate, aligning
//! barriers across them), and a side output registers its outputs with the process
//! operator that emits it.

use std::sync::Arc;

use super::{Node, Shared};
use crate::error::{Result, StreamError};
use crate::runtime::attempt::AttemptCtx;
use crate::runtime::output::BoxOutput;
use crate::runtime::side_output::{SideOutput, TypedSide};

pub(crate) struct UnionNode<T> {
    /// Each input with the number of outputs it takes (its parallelism).
    pub(crate) inputs: Vec<(Arc<dyn Node<T>>, usize)>,
}

impl<T: Send + 'static> Node<T> for UnionNode<T> {
    fn build(&self, ctx: &mut AttemptCtx, mut outputs: Vec<BoxOutput<T>>) -> Result<()> {
        let width: usize = self.inputs.iter().map(|(_, w)| w).sum();
        if outputs.len() != width {
            return Err(StreamError::invalid(
                "parallelism",
                outputs.len(),
                format!("a union of {width} subtasks was given another number of outputs"),
            ));
        }
        for (input, w) in &self.inputs {
            let rest = outputs.split_off(*w);
            input.build(ctx, std::mem::replace(&mut outputs, rest))?;
        }
        Ok(())
    }
}

pub(crate) struct SideOutputNode<S, O> {
    /// The stream of the process operator that emits it.
    pub(crate) operator: Arc<Shared<O>>,
    pub(crate) tag: Arc<str>,
    pub(crate) _records: std::marker::PhantomData<fn() -> S>,
}

impl<S: Clone + Send + 'static, O: Send + 'static> Node<S> for SideOutputNode<S, O> {
    fn build(&self, ctx: &mut AttemptCtx, outputs: Vec<BoxOutput<S>>) -> Result<()> {
        let width = outputs.len();
        let sides: Vec<Box<dyn SideOutput>> = outputs
            .into_iter()
            .map(|out| Box::new(TypedSide::new(self.tag.clone(), out)) as Box<dyn SideOutput>)
            .collect();
        ctx.side_outputs.entry(self.operator.seq).or_default().push(sides);
        self.operator.require(ctx, width)
    }
}

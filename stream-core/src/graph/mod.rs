//! The job graph: nodes that, for each execution attempt, create the channels and
//! spawn the subtasks of their stage and then build their upstream. Every stream's
//! node is [`Shared`]: it is built once, after all its consumers (sinks and later
//! operators) registered their outputs, so one stream may feed several operators.

mod operators;
mod shared;
mod sink;
mod source;
mod union;

use serde::de::DeserializeOwned;
use tokio::sync::mpsc;

pub(crate) use operators::{AsyncNode, ChainNode, ExchangeNode, KeyedProcessNode};
pub(crate) use shared::Shared;
pub(crate) use sink::SinkNode;
pub(crate) use source::SourceNode;
pub(crate) use union::{SideOutputNode, UnionNode};

use crate::error::Result;
use crate::runtime::attempt::AttemptCtx;
use crate::runtime::input_gate::InputGate;
use crate::runtime::output::{BoxOutput, ChannelOutput};
use crate::runtime::partition::Partitioner;
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

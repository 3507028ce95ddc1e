//! The connector API: Flink's FLIP-27 source split and Sink V2 split, in async Rust.
//!
//! Connectors implement these traits; the runtime drives them and takes care of
//! checkpoints, restarts and the hand-over of state.

mod context;
mod function;
mod sink;
mod source;

pub use context::{EnumeratorContext, TaskContext};
pub(crate) use function::{CoAdapter, Either, SideRecords};
pub use function::{
    CoProcessFn, Collector, KeyedCoProcessFunction, KeyedProcessFunction, OutputTag, ProcessFn, co_process_fn,
    process_fn,
};
pub use sink::{Committer, NoCommitter, Sink, SinkWriter};
pub use source::{Boundedness, ReadStatus, Source, SourceReader, SourceSplit, SplitEnumerator};

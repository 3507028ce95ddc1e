//! Runtime internals: channels, tasks, barriers, the coordinator.

pub(crate) mod async_task;
pub(crate) mod attempt;
pub(crate) mod coordinator;
pub(crate) mod driver;
pub(crate) mod event;
pub(crate) mod fanout;
pub(crate) mod input_gate;
pub(crate) mod output;
pub(crate) mod partition;
pub(crate) mod process_task;
pub(crate) mod side_output;
pub(crate) mod sink_output;
pub(crate) mod source_task;

#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

pub mod api;
pub mod builtin;
mod checkpoint_config;
mod env_config;
mod environment;
mod error;
mod executor;
pub mod fault;
mod graph;
pub mod metrics;
mod replica;
pub mod rescale;
pub mod restart;
pub mod retry;
mod runtime;
mod savepoint;
mod stage;
pub mod state;
mod stream;
mod uid_map;

pub use checkpoint_config::{CheckpointConfig, CheckpointConfigBuilder, CheckpointingMode};
pub use environment::{StreamEnvironment, StreamEnvironmentBuilder};
pub use error::{Result, StreamError};
pub use executor::{Job, JobHandle, JobResult};
pub use replica::Replica;
pub use runtime::async_task::AsyncOptions;
pub use stream::{ConnectedStreams, DataStream, KeyedConnectedStreams, KeyedStream};

/// Everything a job definition usually needs.
pub mod prelude {
    pub use crate::api::{
        Collector, KeyedCoProcessFunction, KeyedProcessFunction, OutputTag, co_process_fn, process_fn,
    };
    pub use crate::builtin::{CollectSink, CollectionSource, DiscardingSink, PrintSink, SocketSink, SocketTextSource};
    pub use crate::restart::RestartStrategy;
    pub use crate::state::{FsStateBackend, MemoryStateBackend};
    pub use crate::{
        AsyncOptions, CheckpointConfig, CheckpointingMode, DataStream, JobHandle, JobResult, StreamEnvironment,
        StreamError,
    };
}

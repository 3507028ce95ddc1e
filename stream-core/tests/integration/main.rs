//! The integration tests of `stream-core`, in one test binary: one link and one shared
//! test server per service for the whole crate (nextest still runs each test in a
//! process of its own).

mod async_io;
mod builtins;
mod cancel;
mod checkpoint_protocol;
mod common;
mod early_checkpoints;
mod format1_fixture;
mod graphs;
mod guarantees;
mod metrics;
mod object_store_state;
mod process_kill;
mod replicas;
mod state_format;
mod stop_with_savepoint;
mod uids;

//! The integration tests of `connector-base`, in one test binary: one link and one shared
//! test server per service for the whole crate (nextest still runs each test in a
//! process of its own).

mod async_sink_writer;
mod datagen;
mod hybrid;
mod split_reader;

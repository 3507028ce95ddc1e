#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod action;
mod client;
mod config;
mod connection;
mod emitter;
mod error;
mod policy;
mod response;
mod target;
mod transport;

pub use action::{Action, Operation, VersionType};
pub use client::BulkClient;
pub use config::{SearchSink, SearchSinkBuilder};
pub use connection::{Connection, Credentials};
pub use emitter::Emitter;
pub use error::SearchError;
pub use policy::{FailurePolicy, RejectedAction, RejectedHandler};
pub use target::SearchIndex;
pub use transport::{Backend, Body, BulkTransport, HttpAnswer, Method};

//! The opensearch client plugged into the shared bulk logic.

mod client;

pub use client::OpenSearchTransport;

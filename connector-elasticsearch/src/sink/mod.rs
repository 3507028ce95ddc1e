//! The elasticsearch client plugged into the shared bulk logic.

mod client;

pub use client::ElasticsearchTransport;

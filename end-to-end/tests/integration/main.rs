//! Jobs across several connectors, crashed and checked on the real servers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod checkpoints_on_s3;
mod kafka;
mod kafka_to_three_sinks;
mod replicas_across_processes;
mod s3;

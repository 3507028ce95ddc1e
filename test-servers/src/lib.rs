//! What the test tooling needs of a test server, on the standard library alone, so
//! that `cargo xtask` (which starts the servers) and `connector-testkit` (which the
//! tests use to find, probe and restart them) share it: protocol probes, starting and
//! stopping server processes, and the engine questions asked before containers start.
#![deny(missing_docs)]

pub mod docker;
pub mod images;
pub mod probe;
pub mod process;
pub mod scripts;

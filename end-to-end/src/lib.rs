//! Tests of jobs that span several connectors: see `tests/` and the README. This
//! crate has no code of its own and is not published.

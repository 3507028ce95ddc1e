//! `cargo xtask ci`: everything CI runs, in the order that fails fastest: format,
//! lints, doc tests, then the test servers and all tests (a missing server fails),
//! and the servers are stopped whatever the tests did. Everything builds with
//! `--all-features` (object storage, Parquet) so the build is shared; the
//! default-feature build of crates with features is checked too.

use crate::cmd::{cargo_has, sh};
use crate::error::XtaskError;
use crate::services;

/// A one-off build gains nothing from incremental compilation, and its caches cost
/// disk (25 GB in a working tree here) and time.
const ONE_OFF: (&str, &str) = ("CARGO_INCREMENTAL", "0");

pub fn run() -> Result<(), XtaskError> {
    sh("cargo", &["fmt", "--all", "--", "--check"], &[])?;
    let lint = ["clippy", "--workspace", "--all-targets", "--all-features", "--locked", "--", "-D", "warnings"];
    sh("cargo", &lint, &[ONE_OFF])?;
    let lint_file = ["clippy", "--package", "connector-file", "--all-targets", "--locked", "--", "-D", "warnings"];
    sh("cargo", &lint_file, &[ONE_OFF])?;
    if !cargo_has("nextest") {
        sh("cargo", &["install", "cargo-nextest", "--locked"], &[])?;
    }
    sh("cargo", &["test", "--workspace", "--all-features", "--doc", "--locked"], &[ONE_OFF])?;
    let servers = services::select(&[])?;
    let tested = services::up(&servers).and_then(|()| {
        // A missing test server is a failure here, not a skip.
        let mut env: Vec<(String, String)> = services::endpoint_vars()?;
        env.push(("CONNECTOR_TESTS_REQUIRE_SERVICES".into(), "1".into()));
        env.push((ONE_OFF.0.into(), ONE_OFF.1.into()));
        // A failed test's panic message (the suite's verdict, the job's last error) is
        // what says why; a backtrace of the test's own frames buries it.
        env.push(("RUST_BACKTRACE".into(), "0".into()));
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        sh("cargo", &["nextest", "run", "--workspace", "--all-features", "--locked", "--profile", "ci"], &env)
    });
    let stopped = services::down_quietly(&servers);
    tested.and(stopped)
}

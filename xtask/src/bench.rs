//! `cargo xtask bench [NAME]`: the benchmarks, each printing one result line that
//! compares our pipeline with the raw baseline measured in the same run.

use crate::cmd::sh;
use crate::error::XtaskError;

/// Benchmark name -> (package, bench target).
const BENCHES: &[(&str, &str, &str)] = &[
    ("core", "stream-core", "core"),
    ("file", "connector-file", "file"),
    ("kafka", "connector-kafka", "kafka"),
    ("redis", "connector-redis", "redis"),
    ("rabbitmq", "connector-rabbitmq", "rabbitmq"),
    ("aws", "connector-dynamodb", "dynamodb"),
];

/// Benchmarks that need a test server: it is started first and stopped after.
fn service_of(name: &str) -> Option<&'static str> {
    match name {
        "kafka" => Some("kafka"),
        "redis" => Some("redis"),
        "rabbitmq" => Some("rabbitmq"),
        "aws" => Some("dynamodb"),
        _ => None,
    }
}

pub fn run(args: &[String]) -> Result<(), XtaskError> {
    let selected: Vec<&(&str, &str, &str)> = match args.first() {
        None => BENCHES.iter().collect(),
        Some(name) => {
            let found: Vec<_> = BENCHES.iter().filter(|(n, _, _)| n == name).collect();
            if found.is_empty() {
                let known: Vec<&str> = BENCHES.iter().map(|(n, _, _)| *n).collect();
                return Err(XtaskError::Usage(format!("unknown benchmark `{name}`; known: {}", known.join(", "))));
            }
            found
        }
    };
    for (name, package, target) in selected {
        let args = ["bench", "--locked", "-q", "-p", package, "--bench", target];
        match service_of(name) {
            None => sh("cargo", &args, &[])?,
            Some(service) => {
                let servers = crate::services::select(&[service.to_string()])?;
                let ran = crate::services::up(&servers).and_then(|()| {
                    let vars = crate::services::endpoint_vars()?;
                    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                    sh("cargo", &args, &vars)
                });
                let stopped = crate::services::down_quietly(&servers);
                ran.and(stopped)?;
            }
        }
    }
    Ok(())
}

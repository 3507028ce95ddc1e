//! `cargo xtask bench [NAME]`: the benchmarks, each printing one result line that
//! compares our pipeline with the raw baseline measured in the same run (`aws` and
//! `elasticsearch` run several bench targets and join their results into one line).

use crate::cmd::{sh, sh_output};
use crate::error::XtaskError;

/// Benchmark name -> (package, bench target) of each part.
/// The benches' names.
pub fn names() -> Vec<&'static str> {
    BENCHES.iter().map(|(name, _)| *name).collect()
}

const BENCHES: &[(&str, &[(&str, &str)])] = &[
    ("core", &[("stream-core", "core")]),
    ("file", &[("connector-file", "file")]),
    ("kafka", &[("connector-kafka", "kafka")]),
    ("redis", &[("connector-redis", "redis")]),
    ("rabbitmq", &[("connector-rabbitmq", "rabbitmq")]),
    ("elasticsearch", &[("connector-elasticsearch", "elasticsearch"), ("connector-opensearch", "opensearch")]),
    ("pubsub", &[("connector-pubsub", "pubsub")]),
    ("cassandra", &[("connector-cassandra", "cassandra")]),
    ("mongodb", &[("connector-mongodb", "mongodb")]),
    ("jdbc", &[("connector-jdbc", "jdbc")]),
    ("prometheus", &[("connector-prometheus", "prometheus")]),
    ("pulsar", &[("connector-pulsar", "pulsar")]),
    (
        "aws",
        &[("connector-kinesis", "kinesis"), ("connector-dynamodb", "dynamodb"), ("connector-firehose", "firehose")],
    ),
];

/// The test servers a benchmark needs: started first and stopped after.
fn services_of(name: &str) -> &'static [&'static str] {
    match name {
        "kafka" => &["kafka"],
        "redis" => &["redis"],
        "rabbitmq" => &["rabbitmq"],
        "aws" => &["kinesis", "dynamodb", "moto"],
        "elasticsearch" => &["elasticsearch", "opensearch"],
        "pubsub" => &["pubsub"],
        "cassandra" => &["cassandra"],
        "mongodb" => &["mongodb"],
        "jdbc" => &["postgres"],
        "prometheus" => &["prometheus"],
        "pulsar" => &["pulsar"],
        _ => &[],
    }
}

/// Run the parts of benchmark `name`; a benchmark of several parts prints its result
/// lines (`<name> key=value`) joined into one.
fn run_parts(name: &str, parts: &[(&str, &str)], env: &[(&str, &str)]) -> Result<(), XtaskError> {
    if let [(package, target)] = parts {
        return sh("cargo", &["bench", "--locked", "-q", "-p", package, "--bench", target], env);
    }
    let mut results = Vec::new();
    for (package, target) in parts {
        let out = sh_output("cargo", &["bench", "--locked", "-q", "-p", package, "--bench", target], env)?;
        print!("{out}");
        let prefix = format!("{name} ");
        results.extend(out.lines().filter_map(|l| l.strip_prefix(&prefix)).map(str::to_string));
    }
    println!("{name} {}", results.join(" "));
    Ok(())
}

pub fn run(args: &[String]) -> Result<(), XtaskError> {
    let selected: Vec<&(&str, &[(&str, &str)])> = match args.first() {
        None => BENCHES.iter().collect(),
        Some(name) => {
            let found: Vec<_> = BENCHES.iter().filter(|(n, _)| n == name).collect();
            if found.is_empty() {
                let known: Vec<&str> = BENCHES.iter().map(|(n, _)| *n).collect();
                return Err(XtaskError::Usage(format!("unknown benchmark `{name}`; known: {}", known.join(", "))));
            }
            found
        }
    };
    for (name, parts) in selected {
        let services = services_of(name);
        if services.is_empty() {
            run_parts(name, parts, &[])?;
            continue;
        }
        let names: Vec<String> = services.iter().map(|s| s.to_string()).collect();
        let servers = crate::services::select(&names)?;
        // Servers already running (`cargo xtask services up`) are left running.
        let started: Vec<&'static crate::services::Service> =
            servers.iter().copied().filter(|s| !s.answers()).collect();
        let ran = crate::services::up(&servers).and_then(|()| {
            let vars = crate::services::endpoint_vars()?;
            let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            run_parts(name, parts, &vars)
        });
        let stopped = crate::services::down_quietly(&started);
        ran.and(stopped)?;
    }
    Ok(())
}

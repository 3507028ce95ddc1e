//! `cargo xtask bench [NAME]`: the benchmarks, each printing one result line that
//! compares our pipeline with the raw baseline measured in the same run.

use crate::cmd::sh;
use crate::error::XtaskError;

/// Benchmark name -> (package, bench target).
const BENCHES: &[(&str, &str, &str)] = &[("core", "stream-core", "core"), ("file", "connector-file", "file")];

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
    for (_, package, target) in selected {
        sh("cargo", &["bench", "--locked", "-q", "-p", package, "--bench", target], &[])?;
    }
    Ok(())
}

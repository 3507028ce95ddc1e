//! The small pieces every connector benchmark (`cargo xtask bench <name>`) shares.

/// `BENCH_RECORDS`, or `default`.
pub fn records(default: u64) -> u64 {
    std::env::var("BENCH_RECORDS").ok().and_then(|s| s.parse().ok()).unwrap_or(default)
}

/// The middle value (sorts `values`). Benchmarks report the median of their rounds.
pub fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

/// The server endpoint in `variable`; without it, say how to get one and exit with 2.
pub fn endpoint(variable: &str, bench: &str) -> String {
    match std::env::var(variable) {
        Ok(endpoint) => endpoint,
        Err(_) => {
            eprintln!("set {variable} or run `cargo xtask bench {bench}` (it starts the server)");
            std::process::exit(2);
        }
    }
}

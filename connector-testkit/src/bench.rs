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

/// Run the raw loop and our pipeline one after the other, ours first in odd rounds,
/// and return their rates as `(raw, ours)`. A server's rate drifts as its data grows
/// and its caches warm, so a fixed order would favour one side.
pub async fn pair(
    round: usize,
    raw: impl std::future::Future<Output = f64>,
    ours: impl std::future::Future<Output = f64>,
) -> (f64, f64) {
    if round % 2 == 1 {
        let ours = ours.await;
        (raw.await, ours)
    } else {
        let raw = raw.await;
        (raw, ours.await)
    }
}

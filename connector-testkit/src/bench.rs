//! The small pieces every connector benchmark (`cargo xtask bench <name>`) shares.

/// `BENCH_RECORDS`, or `default`.
pub fn records(default: u64) -> u64 {
    std::env::var("BENCH_RECORDS").ok().and_then(|s| s.parse().ok()).unwrap_or(default)
}

/// `BENCH_ROUNDS`, or `default`.
pub fn rounds(default: usize) -> usize {
    std::env::var("BENCH_ROUNDS").ok().and_then(|s| s.parse().ok()).filter(|n| *n > 0).unwrap_or(default)
}

/// `BENCH_CHECKPOINT_MS` as the interval of the job a benchmark tunes, or `default`.
pub fn checkpoint_interval(default: std::time::Duration) -> std::time::Duration {
    std::env::var("BENCH_CHECKPOINT_MS")
        .ok()
        .and_then(|s| s.parse().ok())
        .map_or(default, std::time::Duration::from_millis)
}

/// The middle value (sorts `values`). Benchmarks report the median of their rounds.
pub fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

/// One figure of a benchmark's result line: its median over the rounds, with the
/// spread (lowest and highest round) and the number of rounds, so that a reader
/// sees how far one round may fall from it: `sink_ratio=0.92 (0.88..0.95, 5 rounds)`.
pub fn figure(name: &str, values: &[f64]) -> String {
    let mut sorted = values.to_vec();
    let median = median(&mut sorted);
    let (low, high) = (sorted.first().copied().unwrap_or(f64::NAN), sorted.last().copied().unwrap_or(f64::NAN));
    let decimals = if median.abs() >= 100.0 { 0 } else { 2 };
    format!("{name}={median:.decimals$} ({low:.decimals$}..{high:.decimals$}, {} rounds)", values.len())
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

/// Run raw, ours, ours, raw on the same data and return each side's rate over its two
/// runs (the harmonic mean: records over total time). A server's rate that drifts
/// over the four runs falls on both sides alike, which alternating the order between
/// rounds (as [`pair`] does) only evens out over many rounds. For measurements that
/// can run twice on the same data, such as reads.
pub async fn abba<R, O>(mut raw: impl FnMut() -> R, mut ours: impl FnMut() -> O) -> (f64, f64)
where
    R: std::future::Future<Output = f64>,
    O: std::future::Future<Output = f64>,
{
    let raw_first = raw().await;
    let (ours_first, ours_second) = (ours().await, ours().await);
    let raw_second = raw().await;
    (harmonic_mean(raw_first, raw_second), harmonic_mean(ours_first, ours_second))
}

/// Records/s of a raw client loop over records `0..n`: `send` sends one batch (a
/// range of at most `batch` records, and sends again what the server did not take),
/// with at most `in_flight` batches at once, as the async sinks do. A failed batch
/// panics (benchmarks run on a healthy server).
pub async fn raw_batches<F, Fut>(n: u64, batch: u64, in_flight: usize, mut send: F) -> f64
where
    F: FnMut(std::ops::Range<u64>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let started = std::time::Instant::now();
    let mut running = tokio::task::JoinSet::new();
    let mut first = 0;
    while first < n {
        while running.len() >= in_flight {
            if let Some(Err(e)) = running.join_next().await {
                panic!("a raw batch failed: {e}");
            }
        }
        running.spawn(send(first..(first + batch).min(n)));
        first += batch;
    }
    while let Some(done) = running.join_next().await {
        if let Err(e) = done {
            panic!("a raw batch failed: {e}");
        }
    }
    n as f64 / started.elapsed().as_secs_f64()
}

fn harmonic_mean(a: f64, b: f64) -> f64 {
    2.0 / (1.0 / a + 1.0 / b)
}

/// Records/s of the unbounded `source` in a job of `env` (its records dropped), from
/// the job's start until `n` records went through; the job is cancelled then.
pub async fn unbounded_source_rate<S>(env: &stream_core::prelude::StreamEnvironment, source: S, n: u64) -> f64
where
    S: stream_core::api::Source,
{
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};
    let seen = Arc::new(AtomicU64::new(0));
    let counter = seen.clone();
    let started = std::time::Instant::now();
    let handle = env
        .from_source(source, "source")
        .map(move |record| {
            std::hint::black_box(record);
            counter.fetch_add(1, Ordering::Relaxed);
        })
        .sink_to(stream_core::prelude::DiscardingSink::new(), "discard")
        .start("bench-source");
    while seen.load(Ordering::Relaxed) < n && !handle.is_finished() {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let rate = n as f64 / started.elapsed().as_secs_f64();
    if let Err(e) = handle.cancel_and_join().await {
        eprintln!("the source job failed: {e}");
    }
    rate
}

/// The environment of a benchmark's job: parallelism 1, a checkpoint every
/// `checkpoint_interval`.
pub fn job_env(checkpoint_interval: std::time::Duration) -> stream_core::prelude::StreamEnvironment {
    let checkpoints = stream_core::prelude::CheckpointConfig::builder().interval(checkpoint_interval).build();
    let env = checkpoints
        .and_then(|c| stream_core::prelude::StreamEnvironment::builder().checkpointing(c).parallelism(1).build());
    env.unwrap_or_else(|e| panic!("a benchmark environment: {e}"))
}

/// Records/s of a job of `env` writing the `n` records of the bounded `source` into
/// `sink`, from the job's start to its end.
pub async fn bounded_job_rate<S, K>(env: &stream_core::prelude::StreamEnvironment, source: S, sink: K, n: u64) -> f64
where
    S: stream_core::api::Source,
    K: stream_core::api::Sink<S::Output>,
{
    let started = std::time::Instant::now();
    if let Err(e) = env.from_source(source, "source").sink_to(sink, "sink").execute("bench-sink").await {
        panic!("the benchmark's job failed: {e}");
    }
    n as f64 / started.elapsed().as_secs_f64()
}

//! The project's main job: generated records -> keyed count (exactly-once state) ->
//! a two-phase sink, with exactly-once checkpoints in a local directory. It crashes
//! itself at random moments, recovers from the last checkpoint, shows progress, and
//! ends by checking every keyed-count update against the input.
//!
//! ```text
//! cargo run --release --example main_job -- [--records N] [--keys K] [--crashes C] [--dir PATH]
//! ```
//!
//! Prints `records_in=<n> records_out=<n> lost=<n> duplicated=<n>` computed from the
//! committed output and writes the final counts to `<dir>/counts.txt`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use stream_core::fault::{Fault, FaultInjector, FaultPoint};
use stream_core::prelude::*;

struct Options {
    records: u64,
    keys: u64,
    crashes: usize,
    dir: PathBuf,
}

fn parse_args() -> Result<Options, String> {
    let mut options = Options { records: 2_000_000, keys: 1_000, crashes: 2, dir: PathBuf::from("target/main-job") };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        let number = |v: String| v.parse::<u64>().map_err(|_| format!("{flag}: `{v}` is not a whole number"));
        match flag.as_str() {
            "--records" => options.records = number(value()?)?,
            "--keys" => options.keys = number(value()?)?.max(1),
            "--crashes" => options.crashes = number(value()?)? as usize,
            "--dir" => options.dir = PathBuf::from(value()?),
            "-h" | "--help" => {
                return Err("usage: main_job [--records N] [--keys K] [--crashes C] [--dir PATH]".into());
            }
            other => return Err(format!("unknown option `{other}` (try --help)")),
        }
    }
    if options.records == 0 {
        return Err("--records must be at least 1".into());
    }
    Ok(options)
}

#[tokio::main]
async fn main() {
    if let Err(e) = run().await {
        eprintln!("main_job: {e}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let options = parse_args()?;
    let checkpoints = options.dir.join("checkpoints");
    // A fresh run: old checkpoints would make this run resume a previous one.
    if checkpoints.exists() {
        std::fs::remove_dir_all(&checkpoints)?;
    }
    let faults = FaultInjector::new();
    let mut rng = fastrand::Rng::new();
    // Record counts restart at 0 in each attempt: keep thresholds early enough that
    // every planted crash fires in some attempt.
    let window = (options.records / 2 / (options.crashes as u64 + 1)).max(2);
    for _ in 0..options.crashes {
        let stage = ["generate", "count", "output"][rng.usize(0..3)];
        let point = if rng.bool() {
            FaultPoint::AfterRecords(rng.u64(1..window))
        } else {
            FaultPoint::AfterCheckpointBeforeCommit
        };
        let stage = if point == FaultPoint::AfterCheckpointBeforeCommit { "output" } else { stage };
        faults.plant(Fault::new(stage, point).subtask(rng.usize(0..2)));
    }
    let env = StreamEnvironment::builder()
        .checkpointing(CheckpointConfig::builder().interval(Duration::from_millis(200)).build()?)
        .state_backend(FsStateBackend::new(&checkpoints)?)
        .restart_strategy(RestartStrategy::fixed_delay(options.crashes as u32 + 3, Duration::from_millis(100)))
        .parallelism(2)
        .fault_injector(faults.clone())
        .build()?;
    let metrics = env.metrics();
    let progress = tokio::spawn(async move {
        let started = Instant::now();
        loop {
            tokio::time::sleep(Duration::from_millis(500)).await;
            let m = metrics.snapshot();
            let generated = m.stages.iter().find(|(n, _, _)| n == "generate").map(|s| s.2).unwrap_or(0);
            eprintln!(
                "[{:>5.1}s] generated={generated} ({:.0} records/s) checkpoints={} (last #{}, {} bytes) restarts={}",
                started.elapsed().as_secs_f64(),
                generated as f64 / started.elapsed().as_secs_f64(),
                m.checkpoints_completed,
                m.last_checkpoint_id,
                m.last_checkpoint_bytes,
                m.restarts,
            );
        }
    });
    let keys = options.keys;
    let sink = CollectSink::new();
    let result = env
        .from_source(CollectionSource::sequence(0..options.records).records_per_second(1_000_000.0)?, "generate")
        .key_by(move |x| x % keys)
        .process(
            "count",
            process_fn(|key: &u64, count: &mut u64, _x: u64, out: &mut Collector<(u64, u64)>| {
                *count += 1;
                out.collect((*key, *count));
                Ok(())
            }),
        )
        .sink_to(sink.clone(), "output")
        .execute("main-job")
        .await?;
    progress.abort();

    // Verify: every input record must have produced exactly one update (key, c) with
    // c running from 1 to the key's true count.
    let output = sink.committed();
    let mut truth: BTreeMap<u64, u64> = BTreeMap::new();
    for x in 0..options.records {
        *truth.entry(x % keys).or_default() += 1;
    }
    let mut seen: BTreeMap<(u64, u64), u64> = BTreeMap::new();
    for pair in &output {
        *seen.entry(*pair).or_default() += 1;
    }
    let expected: u64 = truth.values().sum();
    let present =
        truth.iter().map(|(k, n)| (1..=*n).filter(|c| seen.contains_key(&(*k, *c))).count() as u64).sum::<u64>();
    let lost = expected - present;
    let duplicated = output.len() as u64 - present;
    let mut counts = String::new();
    for (key, n) in &truth {
        let got = output.iter().filter(|(k, _)| k == key).map(|(_, c)| *c).max().unwrap_or(0);
        writeln!(counts, "{key}\t{got}\t(expected {n})")?;
    }
    std::fs::write(options.dir.join("counts.txt"), counts)?;
    eprintln!(
        "restarts={} (crashes fired: {} of {} planted), checkpoints={}, final counts in {}",
        result.restarts,
        faults.fired().len(),
        options.crashes,
        result.metrics.checkpoints_completed,
        options.dir.join("counts.txt").display()
    );
    println!("records_in={} records_out={} lost={lost} duplicated={duplicated}", options.records, output.len());
    if lost > 0 || duplicated > 0 {
        return Err("the output does not match the input".into());
    }
    Ok(())
}

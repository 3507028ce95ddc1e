//! A Kafka -> Kafka job in exactly-once mode is killed with SIGKILL several times and
//! started again on the same checkpoint directory; in the end the output topic, read
//! with a `read_committed` consumer, holds every input record exactly once.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use stream_core::prelude::*;

const N: u64 = 30_000;
const PARTITIONS: i32 = 3;
const CHILD_ENV: &str = "KAFKA_KILL_TEST";

/// The job run by the child process: `dir|bootstrap|input|output` in `CHILD_ENV`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "child process of kafka_to_kafka_survives_kill_minus_nine"]
async fn kafka_kill_child_job() {
    let args = std::env::var(CHILD_ENV).expect("run by the parent test");
    let _ = tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::from_default_env()).try_init();
    let [dir, bootstrap, input, output]: [&str; 4] = args.split('|').collect::<Vec<_>>().try_into().unwrap();
    let (source, sink) = (common::bounded_source(bootstrap, input), common::exactly_once_sink(bootstrap, output));
    StreamEnvironment::builder()
        .checkpointing(CheckpointConfig::builder().interval(Duration::from_millis(100)).build().unwrap())
        .state_backend(FsStateBackend::new(Path::new(dir).join("checkpoints")).unwrap())
        // As a deployed job would: a transient failure (a fenced or purged producer
        // while recovery settles the killed run's transactions) restarts inside the
        // process from the checkpoint; the output is still checked record by record.
        .restart_strategy(RestartStrategy::fixed_delay(5, Duration::from_millis(100)))
        .parallelism(2)
        .build()
        .unwrap()
        .from_source(source, "kafka-in")
        .map(|line: String| {
            // Paced so an uninterrupted run takes ~10 s (1 500 pauses of 3 ms per
            // subtask): three runs killed after 1.5-3 s each cannot finish the input.
            if line.ends_with('0') {
                std::thread::sleep(Duration::from_millis(3));
            }
            line.to_uppercase()
        })
        .sink_to(sink, "kafka-out")
        .execute("kafka-kill")
        .await
        .unwrap();
}

/// Start a run of the child job; its output goes to `log` (appended), so that a run
/// that fails can say why. The name filters by substring (the test's path in this
/// binary is `process_kill::...`); only ignored tests run, and one matches.
fn child(args: &str, log: &Path) -> std::process::Child {
    let out = std::fs::OpenOptions::new().create(true).append(true).open(log).unwrap();
    Command::new(std::env::current_exe().unwrap())
        .args(["kafka_kill_child_job", "--ignored", "--nocapture"])
        .env(CHILD_ENV, args)
        .env("RUST_LOG", std::env::var("RUST_LOG").unwrap_or_else(|_| "warn,connector_kafka=info".into()))
        .stdout(Stdio::null())
        .stderr(out)
        .spawn()
        .unwrap()
}

/// The last 80 lines of `log`.
fn tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(80)..].join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_to_kafka_survives_kill_minus_nine() {
    let Some((bootstrap, input)) = common::topic("kill-in", PARTITIONS).await else { return };
    let (_, output) = common::topic("kill-out", PARTITIONS).await.unwrap();
    let records = (0..N).map(|i| (i.to_string(), format!("record-{i}")));
    common::produce(&common::producer(&bootstrap), &input, records).await;
    let dir = tempfile::tempdir().unwrap();
    let args = format!("{}|{bootstrap}|{input}|{output}", dir.path().display());
    let (killed_log, last_log) = (dir.path().join("killed-runs.log"), dir.path().join("last-run.log"));
    let mut rng = fastrand::Rng::new();
    let mut kills = 0;
    for _ in 0..3 {
        let mut process = child(&args, &killed_log);
        tokio::time::sleep(Duration::from_millis(rng.u64(1_500..3_000))).await;
        if process.try_wait().unwrap().is_none() {
            process.kill().unwrap(); // SIGKILL
            kills += 1;
        }
        process.wait().unwrap();
    }
    let (b, o) = (bootstrap.clone(), output.clone());
    let partial = tokio::task::spawn_blocking(move || {
        // The last killed run's open transaction holds the end back until the next run fences it.
        common::read_committed_until(&b, &o, PARTITIONS, Some(Duration::from_secs(5))).len()
    })
    .await
    .unwrap();
    let started = Instant::now();
    let status = child(&args, &last_log).wait().unwrap();
    assert!(status.success(), "the last run must finish; its output ended with:\n{}", tail(&last_log));
    assert!(started.elapsed() < Duration::from_secs(120));
    let (b, o) = (bootstrap.clone(), output.clone());
    let values = tokio::task::spawn_blocking(move || common::read_committed(&b, &o, PARTITIONS)).await.unwrap();
    let seen = common::count_each(values);
    let (lost, duplicated) = common::lost_and_duplicated(&seen, N);
    eprintln!("kills={kills} committed before the last run={partial} lost={lost} duplicated={duplicated}");
    assert!(kills >= 2, "at least two runs must have been killed while working (kills={kills})");
    assert!(partial > 0, "the killed runs must have committed something:\n{}", tail(&killed_log));
    assert_eq!(
        (lost, duplicated, seen.len()),
        (0, 0, N as usize),
        "the runs' logs:\n{}\n--- last run:\n{}",
        tail(&killed_log),
        tail(&last_log)
    );
}

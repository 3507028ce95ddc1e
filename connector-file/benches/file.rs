//! `cargo xtask bench file`: the FileSink (exactly-once, checkpoints every second)
//! against a plain buffered writer loop writing the same lines, and the FileSource
//! against a plain buffered line-reading loop over the same files, in the same run.
//!
//! Prints `file sink_mb_per_sec=<x> (..) sink_ratio=<r> (<low>..<high>, <n> rounds)` and
//! the same for the source: medians over `BENCH_ROUNDS` rounds (default 7, of 6 000 000 lines each, about 430 MB). Writes
//! alternate which side goes first; reads run raw, ours, ours, raw over the same
//! files, so both read from the same page-cache state.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use connector_file::{BucketAssigner, FileSink, FileSource, LineEncoder, TextLines};
use connector_testkit::bench;
use stream_core::prelude::*;

const DEFAULT_LINES: u64 = 6_000_000;

fn line(i: u64) -> String {
    format!("{i:012} the quick brown fox jumps over the lazy dog {:08x}", i.wrapping_mul(0x9e37_79b9))
}

fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().metadata().unwrap().len()).sum()
}

fn env() -> StreamEnvironment {
    StreamEnvironment::builder()
        .checkpointing(CheckpointConfig::builder().interval(Duration::from_secs(1)).build().unwrap())
        .build()
        .unwrap()
}

/// MB/s of the FileSink writing `n` lines into `dir`.
async fn sink(n: u64, dir: &Path) -> f64 {
    let started = Instant::now();
    let sink = FileSink::builder(dir, LineEncoder).buckets(BucketAssigner::Single).build().unwrap();
    env()
        .from_source(CollectionSource::from_fn(n, line), "lines")
        .sink_to(sink, "files")
        .execute("sink")
        .await
        .unwrap();
    dir_bytes(dir) as f64 / 1e6 / started.elapsed().as_secs_f64()
}

/// MB/s of a buffered writer loop writing the same lines (and fsyncing at the end).
fn raw_write(n: u64, path: &Path) -> f64 {
    let started = Instant::now();
    let file = std::fs::File::create(path).unwrap();
    let mut out = BufWriter::with_capacity(256 * 1024, file);
    for i in 0..n {
        writeln!(out, "{}", line(i)).unwrap();
    }
    out.into_inner().unwrap().sync_all().unwrap();
    std::fs::metadata(path).unwrap().len() as f64 / 1e6 / started.elapsed().as_secs_f64()
}

/// MB/s of the FileSource reading `dir` into a discarding sink.
async fn source(dir: &Path, bytes: u64) -> f64 {
    let started = Instant::now();
    let source = FileSource::builder(dir, TextLines).build().unwrap();
    env().from_source(source, "files").sink_to(DiscardingSink::new(), "discard").execute("source").await.unwrap();
    bytes as f64 / 1e6 / started.elapsed().as_secs_f64()
}

/// MB/s of a buffered loop reading the same files line by line into Strings.
fn raw_read(dir: &Path, bytes: u64) -> f64 {
    let started = Instant::now();
    for entry in std::fs::read_dir(dir).unwrap() {
        let mut reader = BufReader::new(std::fs::File::open(entry.unwrap().path()).unwrap());
        let mut buf = Vec::new();
        while reader.read_until(b'\n', &mut buf).unwrap() > 0 {
            black_box(String::from_utf8_lossy(&buf).trim_end().to_string());
            buf.clear();
        }
    }
    bytes as f64 / 1e6 / started.elapsed().as_secs_f64()
}

fn main() {
    let n = bench::records(DEFAULT_LINES);
    let rounds = bench::rounds(7);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let (mut sink_rates, mut sink_ratios, mut source_rates, mut source_ratios) = (vec![], vec![], vec![], vec![]);
    for round in 0..rounds {
        let work = tempfile::tempdir().unwrap();
        let out = work.path().join("sink");
        // Writes: which side writes first alternates between rounds (the disk's
        // write-back state after one side's fsyncs weighs on the next).
        let (ours, raw) = if round % 2 == 0 {
            let ours = runtime.block_on(sink(n, &out));
            (ours, raw_write(n, &work.path().join("raw.txt")))
        } else {
            let raw = raw_write(n, &work.path().join("raw.txt"));
            (runtime.block_on(sink(n, &out)), raw)
        };
        // Reads: raw, ours, ours, raw over the same files, all in the page cache
        // since they were written, so both sides read from the same cache state.
        let bytes = dir_bytes(&out);
        let read_raw_first = raw_read(&out, bytes);
        let read_ours = [runtime.block_on(source(&out, bytes)), runtime.block_on(source(&out, bytes))];
        let read_raw = [read_raw_first, raw_read(&out, bytes)];
        let harmonic = |r: [f64; 2]| 2.0 / (1.0 / r[0] + 1.0 / r[1]);
        let (read_ours, read_raw) = (harmonic(read_ours), harmonic(read_raw));
        eprintln!(
            "round {round}: sink {ours:.0} MB/s raw write {raw:.0} MB/s; source {read_ours:.0} MB/s raw read {read_raw:.0} MB/s ({} MB)",
            bytes / 1_000_000
        );
        sink_rates.push(ours);
        sink_ratios.push(ours / raw);
        source_rates.push(read_ours);
        source_ratios.push(read_ours / read_raw);
    }
    println!("file {} {}", bench::figure("sink_mb_per_sec", &sink_rates), bench::figure("sink_ratio", &sink_ratios));
    println!(
        "file {} {}",
        bench::figure("source_mb_per_sec", &source_rates),
        bench::figure("source_ratio", &source_ratios)
    );
}

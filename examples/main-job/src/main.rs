//! The project's main job: a word count over files, exactly-once end to end.
//!
//! FileSource (text lines) -> words -> key_by(word) -> running count -> FileSink, with
//! exactly-once checkpoints in a local directory. The job crashes itself at random
//! moments (at least once), recovers from its last checkpoint, prints progress, and
//! ends by checking the output files against the input files: every word's running
//! counts must be exactly 1..n, each once.
//!
//! ```text
//! cargo run --release -p main-job -- [--input DIR] [--output DIR] [--words N] [--crashes C]
//! ```
//! Without `--input`, it generates input files. It prints
//! `records_in=<words read> records_out=<count updates written> lost=<n> duplicated=<n>`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use connector_file::{BucketAssigner, FileSink, FileSource, LineEncoder, TextLines};
use stream_core::fault::{Fault, FaultInjector, FaultPoint};
use stream_core::prelude::*;

struct Options {
    input: Option<PathBuf>,
    output: Option<PathBuf>,
    words: u64,
    crashes: usize,
}

const USAGE: &str = "usage: main_job [--input DIR] [--output DIR] [--words N] [--crashes C]";

fn parse_args() -> Result<Options, String> {
    let mut o = Options { input: None, output: None, words: 2_000_000, crashes: 2 };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value ({USAGE})"));
        let number = |v: String| v.parse::<u64>().map_err(|_| format!("{flag}: `{v}` is not a whole number"));
        match flag.as_str() {
            "--input" => o.input = Some(PathBuf::from(value()?)),
            "--output" => o.output = Some(PathBuf::from(value()?)),
            "--words" => o.words = number(value()?)?.max(1),
            "--crashes" => o.crashes = number(value()?)?.max(1) as usize,
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown option `{other}` ({USAGE})")),
        }
    }
    Ok(o)
}

#[tokio::main]
async fn main() {
    if let Err(e) = run().await {
        eprintln!("main_job: {e}");
        std::process::exit(1);
    }
}

/// Write `words` random words (a Zipf-like vocabulary) into 8 input files.
fn generate(dir: &Path, words: u64) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut rng = fastrand::Rng::with_seed(7);
    let per_file = words.div_ceil(8);
    let mut left = words;
    for file in 0..8 {
        let mut text = String::new();
        let n = per_file.min(left);
        left -= n;
        let mut in_line = 0;
        for _ in 0..n {
            let rank = (rng.f64().powi(3) * 5_000.0) as u64;
            text.push_str(&format!("word{rank}"));
            in_line += 1;
            text.push(if in_line % 12 == 0 { '\n' } else { ' ' });
        }
        text.push('\n');
        std::fs::write(dir.join(format!("input-{file}.txt")), text)?;
    }
    Ok(())
}

/// Words of every visible file under `dir`.
fn count_words(dir: &Path) -> std::io::Result<BTreeMap<String, u64>> {
    let mut counts = BTreeMap::new();
    for path in visible_files(dir)? {
        for word in std::fs::read_to_string(&path).map_err(|e| naming(&path, e))?.split_whitespace() {
            *counts.entry(word.to_string()).or_default() += 1;
        }
    }
    Ok(counts)
}

/// `error` with the path it happened at (the OS's own text names none).
fn naming(path: &Path, error: std::io::Error) -> std::io::Error {
    std::io::Error::new(error.kind(), format!("{}: {error}", path.display()))
}

fn visible_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for entry in std::fs::read_dir(&d).map_err(|e| naming(&d, e))? {
            let path = entry.map_err(|e| naming(&d, e))?.path();
            let hidden = path.file_name().is_some_and(|n| n.to_string_lossy().starts_with(['.', '_']));
            if hidden {
                continue;
            }
            if path.is_dir() {
                dirs.push(path);
            } else {
                out.push(path);
            }
        }
    }
    Ok(out)
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let options = parse_args()?;
    let work = PathBuf::from("target/main-job");
    let input = match &options.input {
        Some(dir) => dir.clone(),
        None => {
            let dir = work.join("input");
            if dir.exists() {
                std::fs::remove_dir_all(&dir)?;
            }
            generate(&dir, options.words)?;
            dir
        }
    };
    let output = options.output.clone().unwrap_or_else(|| work.join("output"));
    if output.exists() && std::fs::read_dir(&output).map_err(|e| naming(&output, e))?.next().is_some() {
        if options.output.is_some() {
            return Err(format!("output directory {} must be empty", output.display()).into());
        }
        std::fs::remove_dir_all(&output)?;
    }
    let checkpoints = work.join("checkpoints");
    if checkpoints.exists() {
        std::fs::remove_dir_all(&checkpoints)?;
    }
    let truth = count_words(&input)?;
    let records_in: u64 = truth.values().sum();
    eprintln!("input: {records_in} words in {} ({} distinct)", input.display(), truth.len());

    // Crashes early enough in each attempt that every one of them fires.
    let faults = FaultInjector::new();
    let mut rng = fastrand::Rng::new();
    let window = (records_in / 2 / (options.crashes as u64 + 1)).max(2);
    for i in 0..options.crashes {
        let fault = if i % 2 == 0 {
            // The count stage sees words (the source stage counts lines).
            Fault::new("count", FaultPoint::AfterRecords(rng.u64(1..window)))
        } else {
            Fault::new("output", FaultPoint::AfterCheckpointBeforeCommit)
        };
        faults.plant(fault.subtask(rng.usize(0..2)));
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
            let read = m.stages.iter().find(|(n, _, _)| n == "count").map(|s| s.1).unwrap_or(0);
            let secs = started.elapsed().as_secs_f64();
            eprintln!(
                "[{secs:>5.1}s] words counted={read} ({:.0}/s) checkpoints={} (last #{}) restarts={}",
                read as f64 / secs,
                m.checkpoints_completed,
                m.last_checkpoint_id,
                m.restarts
            );
        }
    });
    let source = FileSource::builder(&input, TextLines).lines_per_batch(256).build()?;
    let sink = FileSink::builder(&output, LineEncoder).buckets(BucketAssigner::Single).build()?;
    let result = env
        .from_source(source, "words")
        .flat_map(|line: String| line.split_whitespace().map(str::to_string).collect::<Vec<_>>())
        .key_by(|word: &String| word.clone())
        .process(
            "count",
            process_fn(|word: &String, count: &mut u64, _w: String, out: &mut Collector<String>| {
                *count += 1;
                out.collect(format!("{word}\t{count}"));
                Ok(())
            }),
        )
        .sink_to(sink, "output")
        .execute("word-count")
        .await?;
    progress.abort();

    // Verify from the files: the counts of each word must be exactly 1..n, each once.
    let mut seen: BTreeMap<(String, u64), u64> = BTreeMap::new();
    let mut records_out = 0u64;
    let output_files = visible_files(&output)?;
    for path in &output_files {
        for line in std::fs::read_to_string(path)?.lines() {
            let (word, count) = line.split_once('\t').ok_or_else(|| format!("malformed output line `{line}`"))?;
            *seen.entry((word.to_string(), count.parse()?)).or_default() += 1;
            records_out += 1;
        }
    }
    let present: u64 =
        truth.iter().map(|(w, n)| (1..=*n).filter(|c| seen.contains_key(&(w.clone(), *c))).count() as u64).sum();
    let lost = records_in - present;
    let duplicated = records_out - present;
    eprintln!(
        "restarts={} (crashes fired: {} of {}), checkpoints={}, output: {} part files in {}",
        result.restarts,
        faults.fired().len(),
        options.crashes,
        result.metrics.checkpoints_completed,
        output_files.len(),
        output.display()
    );
    println!("records_in={records_in} records_out={records_out} lost={lost} duplicated={duplicated}");
    if lost > 0 || duplicated > 0 {
        return Err("the output does not match the input".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_input_directory_is_named() {
        let missing = std::env::temp_dir().join(format!("main-job-missing-{}", std::process::id()));
        let error = count_words(&missing).unwrap_err().to_string();
        assert!(error.contains(&missing.display().to_string()) && error.contains("No such file"), "{error}");
    }

    #[test]
    fn an_unreadable_input_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        // Not UTF-8: read_to_string fails on it whoever runs the test (root reads any file).
        let file = dir.path().join("input-0.txt");
        std::fs::write(&file, [0xff, 0xfe, 0x00]).unwrap();
        let error = count_words(dir.path()).unwrap_err().to_string();
        assert!(error.contains(&file.display().to_string()), "{error}");
    }
}

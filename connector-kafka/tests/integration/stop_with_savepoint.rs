//! Stop-with-savepoint on a Kafka -> Kafka exactly-once job: stopped while it writes,
//! every record its source read is committed in the output topic (nothing waits for a
//! next checkpoint), and a job resumed from the savepoint alone (a fresh checkpoint
//! directory) ends with every input record once in the output.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use stream_core::prelude::*;

const N: u64 = 20_000;
const PARTITIONS: i32 = 3;

fn job(bootstrap: &str, input: &str, output: &str, checkpoints: &Path, savepoint: Option<&Path>) -> stream_core::Job {
    let (source, sink) = (common::bounded_source(bootstrap, input), common::exactly_once_sink(bootstrap, output));
    let mut env = StreamEnvironment::builder()
        // Seldom: much is read and written but not committed when the stop comes.
        .checkpointing(CheckpointConfig::builder().interval(Duration::from_secs(2)).build().unwrap())
        .state_backend(FsStateBackend::new(checkpoints).unwrap())
        .parallelism(2);
    if let Some(savepoint) = savepoint {
        env = env.resume_from(savepoint);
    }
    env.build()
        .unwrap()
        .from_source(source, "kafka-in")
        .uid("kafka-in")
        .map(|line: String| {
            // Paced: about 5 s for all of it.
            if line.ends_with("00") {
                std::thread::sleep(Duration::from_millis(50));
            }
            line.to_uppercase()
        })
        .sink_to(sink, "kafka-out")
        .uid("kafka-out")
}

async fn committed(bootstrap: &str, output: &str) -> BTreeMap<String, usize> {
    let (b, o) = (bootstrap.to_string(), output.to_string());
    let values = tokio::task::spawn_blocking(move || common::read_committed(&b, &o, PARTITIONS)).await.unwrap();
    common::count_each(values)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_stopped_with_a_savepoint_committed_what_it_read_and_resumes_exactly_once() {
    let Some((bootstrap, input)) = common::topic("savepoint-in", PARTITIONS).await else { return };
    let (_, output) = common::topic("savepoint-out", PARTITIONS).await.unwrap();
    let records = (0..N).map(|i| (i.to_string(), format!("record-{i}")));
    common::produce(&common::producer(&bootstrap), &input, records).await;
    let dir = tempfile::tempdir().unwrap();
    let savepoint = dir.path().join("savepoint");

    let handle = job(&bootstrap, &input, &output, &dir.path().join("cp-1"), None).start("savepoint-1");
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let stopped = tokio::time::timeout(Duration::from_secs(60), handle.stop_with_savepoint(&savepoint))
        .await
        .expect("the stop ends the job")
        .unwrap();
    assert_eq!(stopped.savepoint.as_deref(), Some(savepoint.as_path()));
    let read = stopped.metrics.stages.iter().find(|(s, _, _)| s == "kafka-in").map(|(_, _, out)| *out).unwrap();
    let at_stop = committed(&bootstrap, &output).await;
    let at_stop_total: usize = at_stop.values().sum();
    eprintln!("stopped after reading {read} of {N}; {at_stop_total} committed");
    assert!(read > 0 && read < N, "stopped midway: read {read} of {N}");
    assert_eq!(at_stop_total as u64, read, "every record read was committed at the stop, once");

    let resumed = job(&bootstrap, &input, &output, &dir.path().join("cp-2"), Some(&savepoint));
    tokio::time::timeout(Duration::from_secs(120), resumed.execute("savepoint-2")).await.unwrap().unwrap();
    let seen = committed(&bootstrap, &output).await;
    let (lost, duplicated) = common::lost_and_duplicated(&seen, N);
    eprintln!("after the resumed run: lost={lost} duplicated={duplicated}");
    assert_eq!((lost, duplicated, seen.len()), (0, 0, N as usize));
}

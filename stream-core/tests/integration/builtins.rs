//! Built-in connectors against real sockets.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use stream_core::fault::{Fault, FaultInjector, FaultPoint};
use stream_core::prelude::*;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// A line server: every connection receives the next lines of `0..total` (never a
/// line twice), slowly, and the connection that sends the last line closes.
async fn line_server(total: u64) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let next = Arc::new(AtomicU64::new(0));
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let next = next.clone();
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    if i >= total {
                        let _ = socket.shutdown().await;
                        return;
                    }
                    if socket.write_all(format!("line-{i}\n").as_bytes()).await.is_err() {
                        return;
                    }
                    if i.is_multiple_of(50) {
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                }
            });
        }
    });
    address
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socket_source_is_at_most_once_across_a_crash() {
    let address = line_server(3_000).await;
    let faults = FaultInjector::new();
    faults.plant(Fault::new("sink", FaultPoint::AfterRecords(1_000)));
    let env = StreamEnvironment::builder()
        .checkpointing(CheckpointConfig::builder().interval(Duration::from_millis(20)).build().unwrap())
        .restart_strategy(RestartStrategy::fixed_delay(1, Duration::ZERO))
        .fault_injector(faults.clone())
        .build()
        .unwrap();
    let sink = CollectSink::new();
    env.from_source(SocketTextSource::new(address), "lines")
        .sink_to(sink.clone(), "sink")
        .execute("socket")
        .await
        .unwrap();
    assert_eq!(faults.fired().len(), 1);
    let lines = sink.committed();
    let distinct: BTreeSet<&String> = lines.iter().collect();
    assert_eq!(distinct.len(), lines.len(), "at-most-once must not repeat a line");
    assert!(lines.len() >= 1_000 && lines.len() <= 3_000, "{}", lines.len());
    assert!(lines.iter().all(|l| l.starts_with("line-")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socket_sink_delivers_every_record() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let received = tokio::spawn(async move {
        let mut lines = Vec::new();
        for _ in 0..2 {
            let (socket, _) = listener.accept().await.unwrap();
            let mut reader = BufReader::new(socket).lines();
            while let Some(line) = reader.next_line().await.unwrap() {
                lines.push(line);
            }
        }
        lines
    });
    let env = StreamEnvironment::builder().parallelism(2).build().unwrap();
    env.from_source(CollectionSource::sequence(0..5_000), "numbers")
        .sink_to(SocketSink::new(address), "socket")
        .execute("socket-sink")
        .await
        .unwrap();
    let mut lines: Vec<u64> = received.await.unwrap().iter().map(|l| l.parse().unwrap()).collect();
    lines.sort_unstable();
    assert_eq!(lines, (0..5_000).collect::<Vec<u64>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socket_sink_is_at_least_once_across_a_crash() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let lines = Arc::new(std::sync::Mutex::new(Vec::<u64>::new()));
    let received = lines.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let received = received.clone();
            tokio::spawn(async move {
                let mut reader = BufReader::new(socket).lines();
                while let Ok(Some(line)) = reader.next_line().await {
                    received.lock().unwrap().push(line.parse().unwrap());
                }
            });
        }
    });
    let faults = FaultInjector::new();
    faults.plant(Fault::new("socket", FaultPoint::AfterRecords(3_000)));
    let env = StreamEnvironment::builder()
        .checkpointing(CheckpointConfig::builder().interval(Duration::from_millis(10)).build().unwrap())
        .restart_strategy(RestartStrategy::fixed_delay(1, Duration::ZERO))
        .fault_injector(faults.clone())
        .build()
        .unwrap();
    let source = CollectionSource::sequence(0..10_000).records_per_second(50_000.0).unwrap();
    env.from_source(source, "numbers").sink_to(SocketSink::new(address), "socket").execute("sink-crash").await.unwrap();
    assert_eq!(faults.fired().len(), 1);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut got = lines.lock().unwrap().clone();
    got.sort_unstable();
    got.dedup();
    assert_eq!(got.len(), 10_000, "every record reaches the server at least once");
}

#[tokio::test]
async fn socket_source_reports_an_unreachable_server_by_address() {
    // Port 9 on loopback is closed on these machines.
    let env = StreamEnvironment::builder().build().unwrap();
    let err = env
        .from_source(SocketTextSource::new("127.0.0.1:9"), "lines")
        .sink_to(CollectSink::<String>::new(), "sink")
        .execute("unreachable")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("tcp://127.0.0.1:9"), "{err}");
}

#[tokio::test]
async fn print_sink_prints_every_record() {
    let env = StreamEnvironment::builder().build().unwrap();
    let result = env
        .from_source(CollectionSource::new(vec!["a", "b", "c"]), "letters")
        .sink_to(PrintSink::new().prefix("letters").to_stderr(), "print")
        .execute("print")
        .await
        .unwrap();
    let print = result.metrics.stages.iter().find(|(name, _, _)| name == "print").unwrap();
    assert_eq!(print.1, 3, "records into the print sink");
}

//! `cargo xtask bench pulsar`: our sink and source against raw `pulsar` crate loops on
//! the same broker in the same run (`PULSAR_URL`, or the pulsar-lite that `cargo
//! xtask bench pulsar` starts), both through the testkit's Pulsar proxy (pulsar-lite
//! leaves out the message checksum the client requires; a real broker passes through
//! unchanged).
//! - Sink: `BENCH_RECORDS` (default 100 000) messages of 100 bytes to a fresh topic;
//!   raw: `send_non_blocking` with at most 1 000 receipts outstanding, all awaited at
//!   the end; ours: a job (parallelism 1, checkpoints every second) into `PulsarSink`.
//! - Source: the same number of messages read from a topic; raw: an Exclusive
//!   consumer from the earliest, one cumulative acknowledgement at the end; ours: a
//!   bounded `PulsarSource` in a job (checkpoints every second).
//!
//! Prints `pulsar source_ratio=<r> sink_ratio=<r>` (medians of `BENCH_ROUNDS`, default
//! 3; the sides back to back, in an order that alternates between rounds).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use connector_pulsar::pulsar::consumer::InitialPosition;
use connector_pulsar::pulsar::producer::ProducerOptions;
use connector_pulsar::pulsar::{ConsumerOptions, Pulsar, SubType, TokioExecutor};
use connector_pulsar::{BytesSchema, PulsarSinkBuilder, PulsarSourceBuilder};
use connector_testkit::bench;
use connector_testkit::proxy::FaultProxy;
use futures::StreamExt;
use stream_core::prelude::*;

const PENDING: usize = 1_000;

fn topic(side: &str) -> String {
    format!("persistent://public/default/bench-{side}-{}-{}", std::process::id(), fastrand::u32(..))
}

fn payload(i: u64) -> Vec<u8> {
    format!("{i:012} {}", "x".repeat(87)).into_bytes()
}

async fn client(url: &str) -> Pulsar<TokioExecutor> {
    Pulsar::builder(url, TokioExecutor).build().await.unwrap()
}

/// Messages/s of the raw producer loop into `topic`.
async fn raw_sink(url: &str, topic: &str, n: u64) -> f64 {
    let client = client(url).await;
    let options = ProducerOptions { block_queue_if_full: true, ..ProducerOptions::default() };
    let mut producer = client.producer().with_topic(topic).with_options(options).build().await.unwrap();
    let started = Instant::now();
    let mut pending = VecDeque::with_capacity(PENDING);
    for i in 0..n {
        pending.push_back(producer.send_non_blocking(payload(i)).await.unwrap());
        if pending.len() > PENDING {
            pending.pop_front().unwrap().await.unwrap();
        }
    }
    for receipt in pending {
        receipt.await.unwrap();
    }
    n as f64 / started.elapsed().as_secs_f64()
}

/// Messages/s of our sink in a job into `topic`.
async fn our_sink(url: &str, topic: &str, n: u64) -> f64 {
    let sink = PulsarSinkBuilder::new(url, topic, BytesSchema).max_pending(PENDING).build().unwrap();
    let source = CollectionSource::from_fn(n, payload);
    bench::bounded_job_rate(&bench::job_env(Duration::from_secs(1)), source, sink, n).await
}

/// Messages/s of the raw consumer loop reading `n` messages of `topic`.
async fn raw_source(url: &str, topic: &str, n: u64) -> f64 {
    let client = client(url).await;
    let started = Instant::now();
    let mut consumer = client
        .consumer()
        .with_topic(topic)
        .with_subscription(format!("raw-{}", fastrand::u32(..)))
        .with_subscription_type(SubType::Exclusive)
        .with_options(ConsumerOptions::default().with_initial_position(InitialPosition::Earliest))
        .build::<Vec<u8>>()
        .await
        .unwrap();
    let mut last = None;
    for _ in 0..n {
        let message = consumer.next().await.unwrap().unwrap();
        std::hint::black_box(&message.payload.data);
        last = Some(message);
    }
    if let Some(message) = last {
        consumer.cumulative_ack(&message).await.unwrap();
    }
    n as f64 / started.elapsed().as_secs_f64()
}

/// Messages/s of our bounded source in a job reading `topic`.
async fn our_source(url: &str, topic: &str, n: u64) -> f64 {
    let subscription = format!("ours-{}", fastrand::u32(..));
    let source = PulsarSourceBuilder::new(url, [topic], subscription, BytesSchema).bounded().build().unwrap();
    let sink = DiscardingSink::new();
    bench::bounded_job_rate(&bench::job_env(Duration::from_secs(1)), source, sink, n).await
}

fn main() {
    let endpoint = bench::endpoint("PULSAR_URL", "pulsar");
    let n = bench::records(100_000);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let (mut sink_ratios, mut source_ratios) = (Vec::new(), Vec::new());
    runtime.block_on(async {
        let address = endpoint.trim_start_matches("pulsar://").to_string();
        let upstream = tokio::net::lookup_host(address).await.unwrap().next().unwrap();
        let proxy = FaultProxy::start_pulsar(upstream).await.unwrap();
        let url = format!("pulsar://{}", proxy.addr());
        for round in 0..bench::rounds(3) {
            let (raw_topic, our_topic) = (topic("raw"), topic("ours"));
            let (raw_rate, our_rate) =
                bench::pair(round, raw_sink(&url, &raw_topic, n), our_sink(&url, &our_topic, n)).await;
            // Each side reads the topic the raw producer wrote (fresh subscriptions).
            let (raw_read, our_read) =
                bench::pair(round, raw_source(&url, &raw_topic, n), our_source(&url, &raw_topic, n)).await;
            eprintln!(
                "round {round}: sink raw {raw_rate:.0} / ours {our_rate:.0} msg/s; source raw {raw_read:.0} / ours {our_read:.0} msg/s ({n} messages)"
            );
            sink_ratios.push(our_rate / raw_rate);
            source_ratios.push(our_read / raw_read);
        }
    });
    let (source, sink) = (bench::figure("source_ratio", &source_ratios), bench::figure("sink_ratio", &sink_ratios));
    println!("pulsar {source} {sink}");
}

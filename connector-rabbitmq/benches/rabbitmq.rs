//! `cargo xtask bench rabbitmq`: our sink (publisher confirms) against a raw lapin
//! publisher with confirms, and our at-least-once source against a raw lapin consumer
//! acknowledging in batches, on the same broker in the same run (the broker from
//! `cargo xtask services`, or `RABBITMQ_URL`). Prints `rabbitmq sink_ratio=<r>
//! source_ratio=<r>` (medians of `BENCH_ROUNDS` rounds, default 6; in each, our run and
//! the raw loop run back to back, in an order that alternates between rounds).
//! `BENCH_RECORDS` (default 300 000), `BENCH_CHECKPOINT_MS` (our source's interval,
//! default 1 000, see [`SOURCE_CHECKPOINT_MS`]). `RUST_LOG` shows the jobs' logs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use connector_base::DeliveryGuarantee;
use connector_base::schema::Utf8Schema;
use connector_rabbitmq::lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions, ConfirmSelectOptions,
    QueueDeclareOptions, QueueDeleteOptions,
};
use connector_rabbitmq::lapin::types::FieldTable;
use connector_rabbitmq::lapin::{BasicProperties, Connection, ConnectionProperties};
use connector_rabbitmq::{RabbitMqSink, RabbitMqSource, ToQueue};
use connector_testkit::bench;
use futures::StreamExt;
use stream_core::prelude::*;

const IN_FLIGHT: usize = 10_000;
/// Each consumer may hold this many unacknowledged messages (the most AMQP allows).
/// Ours acknowledges at checkpoints and asks for one at half the window (early
/// checkpoints, the default), so the window, not the interval, paces its
/// acknowledgements. Both sides consume on one
/// channel: a second consumer of ours lifts that bound but cost ours and the broker
/// ~20 % more CPU each on this 2-core host, and read slower (PERFORMANCE.md).
const PREFETCH: u16 = u16::MAX;

/// Long enough that a job's start (its first window, filled before the first
/// checkpoint) does not decide a round.
const DEFAULT_RECORDS: u64 = 300_000;

fn line(i: u64) -> String {
    format!("{i:012} the quick brown fox jumps over the lazy dog")
}

async fn queue(url: &str, name: &str) -> String {
    let queue = format!("bench-{name}-{}-{}", std::process::id(), fastrand::u32(..));
    let conn = Connection::connect(url, ConnectionProperties::default()).await.unwrap();
    let ch = conn.create_channel().await.unwrap();
    let options = QueueDeclareOptions { durable: true, ..QueueDeclareOptions::default() };
    ch.queue_declare(queue.as_str().into(), options, FieldTable::default()).await.unwrap();
    queue
}

/// Delete the round's queues: a consumer stopped after `n` messages leaves what it
/// held unacknowledged requeued, and queues left over from round to round would
/// weigh on the broker.
async fn delete_queues(url: &str, queues: &[&str]) {
    let conn = Connection::connect(url, ConnectionProperties::default()).await.unwrap();
    let ch = conn.create_channel().await.unwrap();
    for queue in queues {
        ch.queue_delete((*queue).into(), QueueDeleteOptions::default()).await.unwrap();
    }
}

/// Messages/s of a raw publisher with confirms (at most `IN_FLIGHT` unconfirmed,
/// persistent, mandatory, as our sink), timed from connecting.
async fn raw_publish(url: &str, queue: &str, n: u64) -> f64 {
    let started = Instant::now();
    let conn = Connection::connect(url, ConnectionProperties::default()).await.unwrap();
    let ch = conn.create_channel().await.unwrap();
    ch.confirm_select(ConfirmSelectOptions::default()).await.unwrap();
    let mut pending = VecDeque::new();
    for i in 0..n {
        if pending.len() >= IN_FLIGHT {
            let oldest: connector_rabbitmq::lapin::PublisherConfirm = pending.pop_front().unwrap();
            assert!(oldest.await.unwrap().is_ack());
        }
        let options = BasicPublishOptions { mandatory: true, ..BasicPublishOptions::default() };
        let props = BasicProperties::default().with_delivery_mode(2);
        pending.push_back(ch.basic_publish("".into(), queue.into(), options, line(i).as_bytes(), props).await.unwrap());
    }
    for confirm in pending {
        assert!(confirm.await.unwrap().is_ack());
    }
    n as f64 / started.elapsed().as_secs_f64()
}

/// Messages/s of our sink in a job (parallelism 1, checkpoints every second).
async fn our_sink(url: &str, queue: &str, n: u64) -> f64 {
    let sink = RabbitMqSink::builder(url, ToQueue::new(queue, Utf8Schema)).max_in_flight(IN_FLIGHT).build().unwrap();
    bench::bounded_job_rate(&bench::job_env(Duration::from_secs(1)), CollectionSource::from_fn(n, line), sink, n).await
}

/// Messages/s of a raw consumer (prefetch `PREFETCH`, acknowledging every 1 000 with
/// `multiple`), decoding bodies to Strings, timed from connecting.
async fn raw_consume(url: &str, queue: &str, n: u64) -> f64 {
    let started = Instant::now();
    let conn = Connection::connect(url, ConnectionProperties::default()).await.unwrap();
    let ch = conn.create_channel().await.unwrap();
    ch.basic_qos(PREFETCH, BasicQosOptions::default()).await.unwrap();
    let mut consumer = ch
        .basic_consume(queue.into(), "raw".into(), BasicConsumeOptions::default(), FieldTable::default())
        .await
        .unwrap();
    let mut read = 0;
    while read < n {
        let d = consumer.next().await.unwrap().unwrap();
        std::hint::black_box(String::from_utf8_lossy(&d.data).into_owned());
        read += 1;
        if read % 1_000 == 0 || read == n {
            ch.basic_ack(d.delivery_tag, BasicAckOptions { multiple: true }).await.unwrap();
        }
    }
    n as f64 / started.elapsed().as_secs_f64()
}

/// Our source's checkpoint interval unless `BENCH_CHECKPOINT_MS` says otherwise: the
/// sink's, and what a job would choose. The raw loop reads up to ~70 000/s here, so
/// without early checkpoints `PREFETCH` per second sat on that bound (the window was
/// full for 25-170 ms of each round's first two seconds; PERFORMANCE.md).
const SOURCE_CHECKPOINT_MS: u64 = 1_000;

/// Messages/s of our at-least-once source (one consumer with prefetch `PREFETCH`,
/// checkpoints every `SOURCE_CHECKPOINT_MS`), the job cancelled once `n` records
/// went through.
async fn our_source(url: &str, queue: &str, n: u64) -> f64 {
    let source = RabbitMqSource::builder(url, queue, Utf8Schema)
        .delivery_guarantee(DeliveryGuarantee::AtLeastOnce)
        .prefetch(PREFETCH)
        .build()
        .unwrap();
    let interval = bench::checkpoint_interval(Duration::from_millis(SOURCE_CHECKPOINT_MS));
    bench::unbounded_source_rate(&bench::job_env(interval), source, n).await
}

fn main() {
    // Our connector's warnings unless `RUST_LOG` says otherwise.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("connector_rabbitmq=warn"));
    tracing_subscriber::fmt().with_env_filter(filter).init();
    let url = bench::endpoint("RABBITMQ_URL", "rabbitmq");
    let n = bench::records(DEFAULT_RECORDS);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let (mut sink, mut source) = (Vec::new(), Vec::new());
    runtime.block_on(async {
        // An even number of rounds: each side goes first equally often.
        for round in 0..bench::rounds(6) {
            let (raw_q, our_q) = (queue(&url, "raw").await, queue(&url, "ours").await);
            // Each pair runs back to back, and which of the two goes first alternates
            // from round to round: the broker warms up over a run.
            let (raw_p, our_p) = bench::pair(round, raw_publish(&url, &raw_q, n), our_sink(&url, &our_q, n)).await;
            let (raw_c, our_c) =
                bench::pair(round, raw_consume(&url, &raw_q, n), our_source(&url, &our_q, n)).await;
            eprintln!(
                "round {round}: publish raw {raw_p:.0}/s ours {our_p:.0}/s; consume raw {raw_c:.0}/s ours {our_c:.0}/s ({n} messages)"
            );
            delete_queues(&url, &[&raw_q, &our_q]).await;
            sink.push(our_p / raw_p);
            source.push(our_c / raw_c);
        }
    });
    println!("rabbitmq {} {}", bench::figure("sink_ratio", &sink), bench::figure("source_ratio", &source));
}

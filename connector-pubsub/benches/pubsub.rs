//! `cargo xtask bench pubsub`: our sink against a raw `google-cloud-pubsub` publisher
//! loop, and our at-least-once source against a raw subscriber loop acknowledging each
//! message, with the same batching and outstanding limits, on the same emulator in the
//! same run (`PUBSUB_EMULATOR_HOST`, or the one `cargo xtask bench pubsub` starts).
//! Prints `pubsub source_ratio=<r> sink_ratio=<r>` (medians of `BENCH_ROUNDS`, default
//! 3; in each, our run and the raw loop run back to back, in an order that alternates
//! between rounds). `BENCH_RECORDS` (default 1 000 000) messages are published by
//! each sink run, a fortieth of them read by each source run.
//!
//! Our source acknowledges at checkpoints (every second here), so it may hold a
//! second's worth of messages: both sides get an outstanding limit above that.
//! `BENCH_OUTSTANDING` and `BENCH_CHECKPOINT_MS` change the limit and the interval, to
//! see the source's cap of one limit's worth of messages per checkpoint interval.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use connector_base::schema::Utf8Schema;
use connector_pubsub::google_cloud_pubsub::client::{Publisher, Subscriber, SubscriptionAdmin, TopicAdmin};
use connector_pubsub::google_cloud_pubsub::model::Message;
use connector_pubsub::{DataOnly, PubSubEndpoint, PubSubSink, PubSubSource};
use connector_testkit::bench;
use stream_core::prelude::*;

const PROJECT: &str = "bench";
const DEFAULT_RECORDS: u64 = 1_000_000;
/// Both sides' batching: messages, bytes, delay (our sink's defaults).
const BATCH: (u32, u32, Duration) = (100, 1024 * 1024, Duration::from_millis(10));
/// Publishes awaiting their result in the raw loop (as our sink).
const IN_FLIGHT: usize = 10_000;
/// Both subscribers' outstanding limit (`BENCH_OUTSTANDING`, default 100 000).
fn outstanding() -> i64 {
    std::env::var("BENCH_OUTSTANDING").ok().and_then(|s| s.parse().ok()).unwrap_or(100_000)
}

fn line(i: u64) -> String {
    format!("{i:012} the quick brown fox jumps over the lazy dog")
}

fn anonymous() -> google_cloud_auth::credentials::Credentials {
    google_cloud_auth::credentials::anonymous::Builder::new().build()
}

/// A fresh topic with `subscriptions` subscriptions; their short names. (A message
/// published to a topic without subscriptions is dropped, so the sink runs publish to
/// such topics and the emulator's load stays the same from run to run.)
async fn topic(url: &str, name: &str, subscriptions: usize) -> (String, Vec<String>) {
    let topic = format!("bench-{name}-{}-{}", std::process::id(), fastrand::u32(..));
    let topics = TopicAdmin::builder().with_endpoint(url).with_credentials(anonymous()).build().await.unwrap();
    let topic_name = format!("projects/{PROJECT}/topics/{topic}");
    topics.create_topic().set_name(&topic_name).send().await.unwrap();
    let admin = SubscriptionAdmin::builder().with_endpoint(url).with_credentials(anonymous()).build().await.unwrap();
    let mut names = Vec::new();
    for i in 0..subscriptions {
        let subscription = format!("{topic}-sub-{i}");
        admin
            .create_subscription()
            .set_name(format!("projects/{PROJECT}/subscriptions/{subscription}"))
            .set_topic(&topic_name)
            .set_ack_deadline_seconds(60)
            .send()
            .await
            .unwrap();
        names.push(subscription);
    }
    (topic, names)
}

/// Run `work` on the runtime's workers, as the tasks of a job run: a loop awaited by
/// `block_on` itself would have the main thread besides the two workers.
async fn on_workers(work: impl Future<Output = f64> + Send + 'static) -> f64 {
    tokio::spawn(work).await.unwrap()
}

/// Messages/s of a raw publisher with our sink's batching, at most `IN_FLIGHT`
/// unanswered, timed from making the client.
async fn raw_publish(url: String, topic: String, n: u64) -> f64 {
    let started = Instant::now();
    let publisher = Publisher::builder(format!("projects/{PROJECT}/topics/{topic}"))
        .with_endpoint(&url)
        .with_credentials(anonymous())
        .set_message_count_threshold(BATCH.0)
        .set_byte_threshold(BATCH.1)
        .set_delay_threshold(BATCH.2)
        .build()
        .await
        .unwrap();
    let mut pending = VecDeque::new();
    for i in 0..n {
        if pending.len() >= IN_FLIGHT {
            let oldest: connector_pubsub::google_cloud_pubsub::publisher::PublishFuture = pending.pop_front().unwrap();
            oldest.await.unwrap();
        }
        pending.push_back(publisher.publish(Message::new().set_data(bytes::Bytes::from(line(i)))));
    }
    for published in pending {
        published.await.unwrap();
    }
    n as f64 / started.elapsed().as_secs_f64()
}

fn env() -> StreamEnvironment {
    // `BENCH_CHECKPOINT_MS`, default 1 s.
    bench::job_env(bench::checkpoint_interval(Duration::from_secs(1)))
}

/// Messages/s of our sink in a job (parallelism 1, checkpoints every second).
async fn our_sink(host: &str, topic: &str, n: u64) -> f64 {
    let sink = PubSubSink::builder(PROJECT, topic, Utf8Schema)
        .endpoint(PubSubEndpoint::emulator(host))
        .batching(BATCH.0, BATCH.1, BATCH.2)
        .build()
        .unwrap();
    bench::bounded_job_rate(&env(), CollectionSource::from_fn(n, line), sink, n).await
}

/// Messages/s of a raw subscriber decoding each payload to a String and acknowledging
/// it, timed from making the client.
async fn raw_consume(url: String, subscription: String, n: u64) -> f64 {
    let started = Instant::now();
    let subscriber = Subscriber::builder().with_endpoint(&url).with_credentials(anonymous()).build().await.unwrap();
    let mut stream = subscriber
        .subscribe(format!("projects/{PROJECT}/subscriptions/{subscription}"))
        .set_max_outstanding_messages(outstanding())
        .build();
    let mut read = 0;
    while read < n {
        let (message, handler) = stream.next().await.unwrap().unwrap();
        std::hint::black_box(String::from_utf8_lossy(&message.data).into_owned());
        handler.ack();
        read += 1;
    }
    n as f64 / started.elapsed().as_secs_f64()
}

/// Messages/s of our at-least-once source (checkpoints every second), the job
/// cancelled once `n` records went through.
async fn our_source(host: &str, subscription: &str, n: u64) -> f64 {
    let source = PubSubSource::builder(PROJECT, subscription, DataOnly(Utf8Schema))
        .endpoint(PubSubEndpoint::emulator(host))
        .max_outstanding_messages(outstanding())
        .build()
        .unwrap();
    bench::unbounded_source_rate(&env(), source, n).await
}

fn main() {
    let host = bench::endpoint("PUBSUB_EMULATOR_HOST", "pubsub");
    let url = format!("http://{host}");
    let n = bench::records(DEFAULT_RECORDS);
    // The emulator delivers about 2 000 messages/s to a subscriber: the sources read
    // fewer messages than the sinks write.
    let m = (n / 40).max(1_000);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let (mut sink, mut source) = (Vec::new(), Vec::new());
    runtime.block_on(async {
        for round in 0..bench::rounds(3) {
            let ((raw_t, _), (our_t, _)) = (topic(&url, "raw", 0).await, topic(&url, "ours", 0).await);
            let (raw_p, our_p) = bench::pair(round, on_workers(raw_publish(url.clone(), raw_t, n)), our_sink(&host, &our_t, n)).await;
            // One topic with a subscription for each side, filled before either reads.
            let (filled, subscriptions) = topic(&url, "read", 2).await;
            raw_publish(url.clone(), filled, m).await;
            let (raw_c, our_c) = bench::pair(
                round,
                on_workers(raw_consume(url.clone(), subscriptions[0].clone(), m)),
                our_source(&host, &subscriptions[1], m),
            )
            .await;
            eprintln!(
                "round {round}: publish raw {raw_p:.0}/s ours {our_p:.0}/s ({n} messages); consume raw {raw_c:.0}/s ours {our_c:.0}/s ({m} messages)"
            );
            sink.push(our_p / raw_p);
            source.push(our_c / raw_c);
        }
    });
    println!("pubsub {} {}", bench::figure("source_ratio", &source), bench::figure("sink_ratio", &sink));
}

//! RabbitMqSource and RabbitMqSink against a real RabbitMQ (`cargo xtask services up
//! rabbitmq`, or `RABBITMQ_URL`): the unbounded source suite for each of the three
//! source guarantees (crashes at random, and for exactly-once at every protocol point
//! including between checkpoint completion and the acknowledgements), the sink suite
//! (at-least-once), and clear errors for bad input.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::time::Duration;

use connector_base::DeliveryGuarantee;
use connector_base::schema::Utf8Schema;
use connector_rabbitmq::{RabbitMqSink, RabbitMqSource, ToQueue};
use connector_testkit::{SuiteConfig, run_sink_suite, run_unbounded_source_suite};
use stream_core::prelude::*;

fn config() -> SuiteConfig {
    SuiteConfig { records: 3_000, ..SuiteConfig::default() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_most_once_source_never_duplicates() {
    let Some(target) = common::InQueue::new("amo", DeliveryGuarantee::AtMostOnce).await else { return };
    // Losses are expected here: do not wait long for records that will not come.
    let config = SuiteConfig { idle_stall: Duration::from_secs(2), ..config() };
    let verdict = run_unbounded_source_suite(target, config).await.unwrap();
    assert!(verdict.crashes >= 1, "{verdict}");
    verdict.check(DeliveryGuarantee::AtMostOnce).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_least_once_source_loses_nothing_across_crashes() {
    let Some(target) = common::InQueue::new("alo", DeliveryGuarantee::AtLeastOnce).await else { return };
    // Two consumers: each channel acknowledges its own deliveries.
    let mut target = std::sync::Arc::unwrap_or_clone(target);
    target.configure = |b| b.consumers(2);
    let verdict = run_unbounded_source_suite(std::sync::Arc::new(target), config()).await.unwrap();
    assert!(verdict.crashes >= 1, "{verdict}");
    verdict.check(DeliveryGuarantee::AtLeastOnce).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exactly_once_source_across_random_crashes() {
    let Some(target) = common::InQueue::new("eos", DeliveryGuarantee::ExactlyOnce).await else { return };
    let verdict = run_unbounded_source_suite(target, SuiteConfig { parallelism: 1, ..config() }).await.unwrap();
    assert!(verdict.crashes >= 1, "{verdict}");
    verdict.check(DeliveryGuarantee::ExactlyOnce).unwrap();
}

/// In order, each armed after the one before fired: after 300 records, while the
/// source snapshots, after a checkpoint completed and before the source acknowledges,
/// after a checkpoint completed and before the collecting sink commits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exactly_once_source_with_a_crash_at_every_protocol_point() {
    let Some(target) = common::InQueue::new("eos-points", DeliveryGuarantee::ExactlyOnce).await else { return };
    let points = SuiteConfig::source_crash_at_every_point();
    let config = SuiteConfig { parallelism: 1, crashes: points.crashes, faults: points.faults, ..config() };
    let verdict = run_unbounded_source_suite(target, config).await.unwrap();
    assert_eq!(verdict.crashes, 4, "{verdict}");
    verdict.check(DeliveryGuarantee::ExactlyOnce).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sink_is_at_least_once_across_crashes() {
    let Some(target) = common::OutQueue::new("sink").await else { return };
    let verdict = run_sink_suite(target, SuiteConfig::default()).await.unwrap();
    assert!(verdict.crashes >= 1, "{verdict}");
    verdict.check(DeliveryGuarantee::AtLeastOnce).unwrap();
}

/// Two consumers: each has a prefetch window of its own, so a subtask reads twice
/// `prefetch` before its first checkpoint; and each channel acknowledges its own
/// deliveries when a checkpoint completes, so a job that read everything and
/// checkpointed leaves nothing to requeue when it stops.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_least_once_with_two_consumers_reads_two_windows_and_acknowledges_on_both() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let Some(url) = common::server().await else { return };
    let queue = common::queue(&url, "two-consumers").await;
    common::publish(&url, &queue, &(0..1_000).collect::<Vec<u64>>()).await;
    let read = Arc::new(AtomicUsize::new(0));
    let start = |interval: Duration| {
        let builder = RabbitMqSource::builder(&url, &queue, Utf8Schema).prefetch(100).consumers(2);
        let source = builder.early_checkpoints(false).build().unwrap();
        let checkpoints = CheckpointConfig::builder().interval(interval).build().unwrap();
        let env = StreamEnvironment::builder().checkpointing(checkpoints).build().unwrap();
        let counted = read.clone();
        env.from_source(source, "source")
            .map(move |body| {
                counted.fetch_add(1, Ordering::SeqCst);
                body
            })
            .sink_to(DiscardingSink::new(), "discard")
            .start("two-consumers")
    };
    let wait_for = |n: usize| {
        let read = read.clone();
        async move {
            let waited = std::time::Instant::now();
            while read.load(Ordering::SeqCst) < n {
                assert!(
                    waited.elapsed() < Duration::from_secs(30),
                    "read {} of {n} in 30 s",
                    read.load(Ordering::SeqCst)
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };

    // No checkpoint completes (none asked for early): each consumer gets its window,
    // then the broker waits.
    let job = start(Duration::from_secs(3_600));
    wait_for(200).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(read.load(Ordering::SeqCst), 200, "two windows of 100");
    job.cancel();
    job.join().await.unwrap();

    // Checkpoints every 100 ms acknowledge on both channels: nothing is left.
    read.store(0, Ordering::SeqCst);
    let job = start(Duration::from_millis(100));
    wait_for(1_000).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    job.cancel();
    job.join().await.unwrap();
    let counts = common::queue_counts_once_unconsumed(&url, &queue).await;
    assert_eq!(counts, (0, 0), "(ready messages, consumers) after the job: every delivery acknowledged");
}

/// The window is the broker's limit, not the checkpoint interval's: at half a window
/// since the last checkpoint the source asks for the next one, whose completion
/// acknowledges, so an hour-long interval does not hold 1 000 messages behind a window
/// of 100.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_least_once_asks_for_checkpoints_before_its_window_fills() {
    let Some(url) = common::server().await else { return };
    let queue = common::queue(&url, "early-checkpoints").await;
    common::publish(&url, &queue, &(0..1_000).collect::<Vec<u64>>()).await;
    let source = RabbitMqSource::builder(&url, &queue, Utf8Schema).prefetch(100).build().unwrap();
    let checkpoints = CheckpointConfig::builder().interval(Duration::from_secs(3_600)).build().unwrap();
    let env = StreamEnvironment::builder().checkpointing(checkpoints).build().unwrap();
    let sink = CollectSink::new();
    let job = env.from_source(source, "source").sink_to(sink.clone(), "sink").start("early-checkpoints");
    let waited = std::time::Instant::now();
    // The collecting sink commits at checkpoints: all but the last half window come.
    while sink.committed().len() < 900 {
        let read = sink.committed().len();
        assert!(waited.elapsed() < Duration::from_secs(30), "committed {read} of 1 000 in 30 s behind a window of 100");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    job.cancel();
    job.join().await.unwrap();
    // Once the consumer is gone, all acknowledged but what the last window held.
    let counts = common::queue_counts_once_unconsumed(&url, &queue).await;
    assert!(counts.0 <= 100 && counts.1 == 0, "(ready messages, consumers) after the job: {counts:?}");
}

async fn run_briefly(job: stream_core::Job) -> Result<stream_core::JobResult, StreamError> {
    match tokio::time::timeout(Duration::from_secs(30), job.execute("bad-input")).await {
        Ok(result) => result,
        Err(_) => panic!("the job neither failed nor finished in 30 s"),
    }
}

fn env(parallelism: usize) -> StreamEnvironment {
    StreamEnvironment::builder()
        .checkpointing(CheckpointConfig::builder().interval(Duration::from_millis(50)).build().unwrap())
        .restart_strategy(RestartStrategy::None)
        .parallelism(parallelism)
        .build()
        .unwrap()
}

/// An environment that would restart a failed job three times.
fn restarting() -> StreamEnvironment {
    StreamEnvironment::builder()
        .restart_strategy(RestartStrategy::fixed_delay(3, Duration::from_millis(500)))
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gives_clear_errors() {
    let Some(url) = common::server().await else { return };
    // A missing queue, for the source.
    // No restart creates it: the job fails on its first attempt, whatever the
    // restart strategy allows.
    let source = RabbitMqSource::builder(&url, "no-such-queue-here", Utf8Schema).build().unwrap();
    let job = restarting().from_source(source, "source").sink_to(DiscardingSink::new(), "discard");
    let err = run_briefly(job).await.unwrap_err();
    assert!(err.is_permanent(), "{err}");
    let err = err.to_string();
    assert!(err.contains("no-such-queue-here") && err.contains("after 1 attempt"), "{err}");

    // A missing queue, for the sink: the mandatory message comes back.
    let sink = RabbitMqSink::builder(&url, ToQueue::new("no-such-queue-either", Utf8Schema)).build().unwrap();
    let job = env(1).from_source(CollectionSource::new(vec!["a".to_string()]), "one").sink_to(sink, "sink");
    let err = run_briefly(job).await.unwrap_err().to_string();
    assert!(err.contains("no-such-queue-either") && err.contains("returned"), "{err}");

    // Wrong credentials: named, not retried for the whole connect timeout, password hidden.
    let bad = url.replace("guest:guest", "guest:wrong-password");
    let source = RabbitMqSource::builder(&bad, "q", Utf8Schema).build().unwrap();
    let job = restarting().from_source(source, "source").sink_to(DiscardingSink::new(), "discard");
    let started = std::time::Instant::now();
    let err = run_briefly(job).await.unwrap_err();
    assert!(err.is_permanent(), "{err}");
    let err = err.to_string();
    assert!(err.contains("cannot connect") && !err.contains("wrong-password"), "{err}");
    // The refusal (403 ACCESS_REFUSED) is recognised by its code and not retried.
    assert!(started.elapsed() < Duration::from_secs(10), "took {:?}: {err}", started.elapsed());

    // Exactly-once with a parallel source.
    let queue = common::queue(&url, "eos-parallel").await;
    let source = RabbitMqSource::builder(&url, &queue, Utf8Schema)
        .delivery_guarantee(DeliveryGuarantee::ExactlyOnce)
        .use_correlation_ids(true)
        .build()
        .unwrap();
    let job = env(2).from_source(source, "source").sink_to(DiscardingSink::new(), "discard");
    let err = run_briefly(job).await.unwrap_err().to_string();
    assert!(err.contains("parallelism"), "{err}");

    // Options.
    let e = RabbitMqSource::builder(&url, "q", Utf8Schema)
        .delivery_guarantee(DeliveryGuarantee::ExactlyOnce)
        .build()
        .unwrap_err()
        .to_string();
    assert!(e.contains("correlation"), "{e}");
    assert!(
        RabbitMqSource::builder(&url, "q", Utf8Schema)
            .prefetch(0)
            .build()
            .unwrap_err()
            .to_string()
            .contains("prefetch")
    );
    assert!(RabbitMqSource::builder("http://x", "q", Utf8Schema).build().is_err());
    let e = RabbitMqSource::builder(&url, "q", Utf8Schema).consumers(0).build().unwrap_err().to_string();
    assert!(e.contains("consumers") && e.contains('0'), "{e}");
    let e = RabbitMqSource::builder(&url, "q", Utf8Schema)
        .delivery_guarantee(DeliveryGuarantee::ExactlyOnce)
        .use_correlation_ids(true)
        .consumers(2)
        .build()
        .unwrap_err()
        .to_string();
    assert!(e.contains("consumers") && e.contains("exactly-once"), "{e}");
    let sink = RabbitMqSink::builder(&url, ToQueue::new("q", Utf8Schema)).max_in_flight(0).build();
    assert!(sink.unwrap_err().to_string().contains("max_in_flight"));
    let zero = Duration::ZERO;
    let source = RabbitMqSource::builder(&url, "q", Utf8Schema).operation_timeout(zero).build();
    assert!(source.unwrap_err().to_string().contains("operation_timeout"));
    let sink = RabbitMqSink::builder(&url, ToQueue::new("q", Utf8Schema)).operation_timeout(zero).build();
    assert!(sink.unwrap_err().to_string().contains("operation_timeout"));
}

/// Exactly-once needs the queue to itself: a consumer still holding messages (the
/// connection of a dead attempt the broker has not closed yet) is waited for, and its
/// messages, requeued when it goes, are read once; another that never goes fails the
/// job naming the queue. (Consuming beside it, the source took the first message that
/// was not a redelivery for proof that every requeued one had come, and a requeue
/// landing after that was read twice.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exactly_once_source_waits_until_it_is_the_only_consumer() {
    use connector_rabbitmq::lapin::options::{BasicConsumeOptions, BasicQosOptions};
    use connector_rabbitmq::lapin::types::FieldTable;
    use connector_rabbitmq::lapin::{Connection, ConnectionProperties};
    use futures::StreamExt;
    let Some(url) = common::server().await else { return };
    let queue = common::queue(&url, "sole-consumer").await;
    let ids: Vec<u64> = (0..100).collect();
    common::publish(&url, &queue, &ids).await;
    // Another consumer takes 30 messages and holds them unacknowledged.
    let other = Connection::connect(&url, ConnectionProperties::default()).await.unwrap();
    let channel = other.create_channel().await.unwrap();
    channel.basic_qos(30, BasicQosOptions::default()).await.unwrap();
    let consume =
        channel.basic_consume(queue.as_str().into(), "".into(), BasicConsumeOptions::default(), FieldTable::default());
    let mut consumer = consume.await.unwrap();
    for _ in 0..30 {
        consumer.next().await.unwrap().unwrap();
    }
    let source = |timeout: Duration| {
        RabbitMqSource::builder(&url, &queue, Utf8Schema)
            .delivery_guarantee(DeliveryGuarantee::ExactlyOnce)
            .use_correlation_ids(true)
            .connect_timeout(timeout)
            .build()
            .unwrap()
    };
    // Another consumer that stays: a clear error once connect_timeout is over.
    let job =
        env(1).from_source(source(Duration::from_millis(500)), "source").sink_to(DiscardingSink::new(), "discard");
    let err = run_briefly(job).await.unwrap_err().to_string();
    assert!(err.contains(&queue) && err.contains("only consumer"), "{err}");
    // One that goes after a while: nothing is read meanwhile, everything once after.
    let sink = CollectSink::<String>::new();
    let handle =
        env(1).from_source(source(Duration::from_secs(30)), "source").sink_to(sink.clone(), "collect").start("sole");
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(sink.committed().is_empty(), "read beside another consumer: {:?}", sink.committed().len());
    drop(consumer);
    other.close(200, "done".into()).await.unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while sink.committed().len() < ids.len() && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    handle.cancel();
    let _ = handle.join().await;
    let mut read: Vec<u64> = sink.committed().iter().map(|body| body.parse().unwrap()).collect();
    read.sort();
    assert_eq!(read, ids, "every message once");
}

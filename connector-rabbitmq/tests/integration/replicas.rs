//! Replicas: an exactly-once source (one consumer in the whole job) reads on replica
//! 0 only; on another replica its reader ends at once and leaves the queue alone.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::time::Duration;

use connector_base::DeliveryGuarantee;
use connector_base::schema::Utf8Schema;
use connector_rabbitmq::RabbitMqSource;
use stream_core::Replica;
use stream_core::prelude::*;

fn job(replica: Replica, source: RabbitMqSource<String>, sink: &CollectSink<String>) -> stream_core::Job {
    let checkpoints = CheckpointConfig::builder().interval(Duration::from_millis(100)).build().unwrap();
    StreamEnvironment::builder()
        .replica(replica)
        .checkpointing(checkpoints)
        .build()
        .unwrap()
        .from_source(source, "queue")
        .sink_to(sink.clone(), "sink")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exactly_once_reads_on_replica_zero_only() {
    let Some(url) = common::server().await else { return };
    let queue = common::queue(&url, "eo-replicas").await;
    common::publish(&url, &queue, &(0..100).collect::<Vec<u64>>()).await;
    let source = || {
        RabbitMqSource::builder(&url, &queue, Utf8Schema)
            .delivery_guarantee(DeliveryGuarantee::ExactlyOnce)
            .use_correlation_ids(true)
            .build()
            .unwrap()
    };

    let elsewhere = CollectSink::new();
    let ended = job(Replica::new(1, 2).unwrap(), source(), &elsewhere).execute("replica-1");
    tokio::time::timeout(Duration::from_secs(30), ended).await.expect("replica 1's job ends at once").unwrap();
    assert!(elsewhere.committed().is_empty(), "replica 1 read {:?}", elsewhere.committed());
    assert_eq!(common::queue_counts(&url, &queue).await, (100, 0), "(ready, consumers) after replica 1");

    let first = CollectSink::new();
    let handle = job(Replica::new(0, 2).unwrap(), source(), &first).start("replica-0");
    let waited = std::time::Instant::now();
    while first.committed().len() < 100 {
        assert!(waited.elapsed() < Duration::from_secs(30), "replica 0 committed {} of 100", first.committed().len());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    handle.cancel_and_join().await.unwrap();
    let mut read: Vec<u64> = first.committed().iter().map(|body| body.parse().unwrap()).collect();
    read.sort_unstable();
    assert_eq!(read, (0..100).collect::<Vec<u64>>());
}

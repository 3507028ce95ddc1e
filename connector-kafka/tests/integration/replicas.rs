//! Replicas: two processes of one job (two jobs in this test process, given replica
//! 0 and replica 1 of 2) read disjoint shares of a topic's partitions on the Kafka
//! test server that together are the whole topic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common::*;

use connector_testkit::read_as_replica;
use stream_core::Replica;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_read_disjoint_partitions_that_cover_the_topic() {
    const N: u64 = 4_000;
    const PARTITIONS: i32 = 8;
    let Some((bootstrap, topic)) = topic("replicas", PARTITIONS).await else { return };
    produce_fast(&bootstrap, &topic, (0..N).map(|i| format!("RECORD-{i}")));
    let replicas = [Replica::new(0, 2).unwrap(), Replica::new(1, 2).unwrap()];
    let (first, second) = tokio::join!(
        read_as_replica(replicas[0], bounded_source(&bootstrap, &topic)),
        read_as_replica(replicas[1], bounded_source(&bootstrap, &topic))
    );
    let (first, second) = (first.unwrap(), second.unwrap());
    for (replica, read) in replicas.iter().zip([&first, &second]) {
        let owned = (0..PARTITIONS).filter(|p| replica.owns(&format!("{topic}-{p}"))).count();
        assert_eq!(owned > 0, !read.is_empty(), "{replica} owns {owned} partitions and read {}", read.len());
    }
    let seen = count_each(first.into_iter().chain(second).collect());
    assert_eq!(lost_and_duplicated(&seen, N), (0, 0), "lost, duplicated");
}

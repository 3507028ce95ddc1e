//! Replicas: two processes of one job (two jobs in this test process, given replica
//! 0 and replica 1 of 2) read disjoint shares of a partitioned topic's partitions on
//! the Pulsar test server that together are the whole topic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use connector_pulsar::{PulsarSourceBuilder, Utf8Schema};
use connector_testkit::read_as_replica;
use stream_core::Replica;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_read_disjoint_partitions_that_cover_the_topic() {
    let Some((_proxy, url)) = common::server().await else { return };
    let topic = common::topic("replicas");
    common::produce(&common::direct().await, &topic, &(0..600).collect::<Vec<u64>>()).await.unwrap();
    let subscription = format!("replicas-{}", fastrand::u32(..));
    let source =
        || PulsarSourceBuilder::new(&url, [topic.as_str()], &subscription, Utf8Schema).bounded().build().unwrap();
    let replicas = [Replica::new(0, 2).unwrap(), Replica::new(1, 2).unwrap()];
    let (first, second) = tokio::join!(read_as_replica(replicas[0], source()), read_as_replica(replicas[1], source()));
    let ids = |read: Vec<String>| -> Vec<u64> { read.iter().map(|id| id.parse().unwrap()).collect() };
    let (first, second) = (ids(first.unwrap()), ids(second.unwrap()));
    // The topic's partitions are named `<topic>-partition-<i>` (3 on first use).
    for (replica, read) in replicas.iter().zip([&first, &second]) {
        let owned = (0..3).filter(|i| replica.owns(&format!("{topic}-partition-{i}"))).count();
        assert_eq!(owned > 0, !read.is_empty(), "{replica} owns {owned} partitions and read {}", read.len());
    }
    let mut all: Vec<u64> = first.into_iter().chain(second).collect();
    all.sort_unstable();
    assert_eq!(all, (0..600).collect::<Vec<u64>>(), "every message once");
}

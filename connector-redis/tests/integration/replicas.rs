//! Replicas: two processes of one job (two jobs in this test process, given replica
//! 0 and replica 1 of 2) read disjoint shares of the streams on the Redis test server
//! that together are all of them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use connector_redis::{RedisEndpoint, RedisStreamsSource, StreamEntry};
use connector_testkit::read_as_replica;
use stream_core::Replica;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_read_disjoint_streams_that_cover_them_all() {
    let Some(url) = common::server().await else { return };
    let prefix = common::unique("replicas");
    let keys: Vec<String> = (0..8).map(|i| format!("{prefix}-{i}")).collect();
    for (i, key) in keys.iter().enumerate() {
        let ids: Vec<u64> = (0..100).map(|n| i as u64 * 100 + n).collect();
        common::xadd_ids(&url, key, &ids).await;
    }
    let source = || {
        RedisStreamsSource::builder(RedisEndpoint::standalone(&url)).streams(keys.clone()).bounded().build().unwrap()
    };
    let replicas = [Replica::new(0, 2).unwrap(), Replica::new(1, 2).unwrap()];
    let (first, second) = tokio::join!(read_as_replica(replicas[0], source()), read_as_replica(replicas[1], source()));
    let ids = |read: Vec<StreamEntry>| -> Vec<String> {
        read.iter().map(|entry| String::from_utf8(entry.field("id").unwrap().to_vec()).unwrap()).collect()
    };
    let (first, second) = (ids(first.unwrap()), ids(second.unwrap()));
    for (replica, read) in replicas.iter().zip([&first, &second]) {
        let owned = keys.iter().filter(|k| replica.owns(k)).count();
        assert_eq!(read.len(), owned * 100, "{replica} owns {owned} streams");
    }
    let mut all: Vec<u64> = first.iter().chain(&second).map(|id| id.parse().unwrap()).collect();
    all.sort_unstable();
    assert_eq!(all, (0..800).collect::<Vec<u64>>(), "every entry once");
}

//! Replicas: the processes of one job (here two jobs in one test process, given
//! replica 0 and replica 1 of 2) read disjoint shares of a source's splits that
//! together are all of it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use stream_core::Replica;
use stream_core::prelude::*;

async fn read_as(replica: Replica, n: u64) -> Vec<u64> {
    let sink = CollectSink::<u64>::new();
    StreamEnvironment::builder()
        .replica(replica)
        .parallelism(2)
        .build()
        .unwrap()
        .from_source(CollectionSource::sequence(0..n).splits_per_reader(8).unwrap(), "numbers")
        .sink_to(sink.clone(), "sink")
        .execute(&format!("replica-{}", replica.index()))
        .await
        .unwrap();
    sink.committed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_read_disjoint_shares_that_cover_the_input() {
    const N: u64 = 20_000;
    let (first, second) =
        tokio::join!(read_as(Replica::new(0, 2).unwrap(), N), read_as(Replica::new(1, 2).unwrap(), N));
    for share in [&first, &second] {
        let part = share.len() as u64;
        assert!(part > N / 5 && part < N * 4 / 5, "each replica reads a share: {} and {}", first.len(), second.len());
    }
    let mut all: Vec<u64> = first.iter().chain(&second).copied().collect();
    all.sort_unstable();
    let read = all.len();
    all.dedup();
    assert_eq!((read - all.len(), all.len() as u64), (0, N), "duplicated, distinct");
}

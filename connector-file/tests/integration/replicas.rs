//! Replicas: two processes of one job (two jobs in this test process, given replica
//! 0 and replica 1 of 2) read disjoint shares of a directory's files and byte ranges
//! that together are all of it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use connector_file::{FileSource, TextLines};
use connector_testkit::read_as_replica;
use stream_core::Replica;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_read_disjoint_shares_of_the_files_and_ranges() {
    let dir = tempfile::tempdir().unwrap();
    for file in 0..6 {
        let lines: String = (0..1_000).map(|i| format!("line-{:05}\n", file * 1_000 + i)).collect();
        std::fs::write(dir.path().join(format!("part-{file}.txt")), lines).unwrap();
    }
    // 4 KiB ranges: each 11 000-byte file is 3 splits.
    let source = || FileSource::builder(dir.path(), TextLines).split_size(4_096).build().unwrap();
    let (first, second) = tokio::join!(
        read_as_replica(Replica::new(0, 2).unwrap(), source()),
        read_as_replica(Replica::new(1, 2).unwrap(), source())
    );
    let (first, second) = (first.unwrap(), second.unwrap());
    assert!(!first.is_empty() && !second.is_empty(), "both read: {} and {}", first.len(), second.len());
    let mut all: Vec<String> = first.into_iter().chain(second).collect();
    all.sort();
    let expected: Vec<String> = (0..6_000).map(|i| format!("line-{i:05}")).collect();
    assert_eq!(all, expected, "every line once");
}

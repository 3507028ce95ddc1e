//! Write times and expiry through the sink: per-record `USING TIMESTAMP` (so a replay
//! or a late record cannot overwrite a newer write) and `USING TTL ?` bound from the
//! record. kassandra ignores both (it keeps the last write and never expires a row),
//! so each test first checks that the server honours them and says so when it does
//! not: they run against a real Cassandra or Scylla given by `CASSANDRA_CONTACT_POINTS`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::time::Duration;

use common::KEYSPACE;
use connector_cassandra::CassandraSink;

async fn run<T>(sink: CassandraSink<T>, records: Vec<T>)
where
    T: connector_cassandra::scylla::serialize::row::SerializeRow + Clone + Send + Sync + 'static,
{
    common::run_into(sink, records).await.unwrap();
}

/// Whether the server keeps the write with the later timestamp, not the later write.
async fn honours_write_times(server: &str) -> bool {
    let table = common::table(server, "probe_ts").await;
    let session = common::session(server).await;
    let insert = session.prepare(format!("INSERT INTO {KEYSPACE}.{table} (id, body) VALUES (?, ?)")).await.unwrap();
    for (timestamp, body) in [(2_000, "newer"), (1_000, "older")] {
        let mut statement = insert.clone();
        statement.set_timestamp(Some(timestamp));
        session.execute_unpaged(&statement, (1i64, body)).await.unwrap();
    }
    let honoured = common::rows(server, &table).await == vec![(1, "newer".to_string())];
    if !honoured {
        eprintln!("skipped: the server at {server} ignores write timestamps (kassandra does)");
    }
    honoured
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_with_an_older_timestamp_does_not_overwrite_a_newer_write() {
    let Some(server) = common::server().await else { return };
    if !honours_write_times(&server).await {
        return;
    }
    let table = common::table(&server, "write_time").await;
    let statement = format!("INSERT INTO {KEYSPACE}.{table} (id, body) VALUES (?, ?)");
    let sink = CassandraSink::<(i64, String)>::builder([server.clone()], statement)
        .cluster_metadata(false)
        .timestamp(|(id, body)| if body == "late" { 1_000 } else { 2_000 + id })
        .build()
        .unwrap();
    // "late" arrives last but was written at an earlier time: "newer" stays.
    run(sink, vec![(1, "newer".into()), (1, "late".into()), (2, "only".into())]).await;
    assert_eq!(common::rows(&server, &table).await, vec![(1, "newer".into()), (2, "only".into())]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_written_with_a_ttl_from_the_record_expire() {
    let Some(server) = common::server().await else { return };
    if !honours_write_times(&server).await {
        return;
    }
    let table = common::table(&server, "ttl").await;
    let statement = format!("INSERT INTO {KEYSPACE}.{table} (id, body) VALUES (?, ?) USING TTL ?");
    let sink = CassandraSink::<(i64, String, i32)>::builder([server.clone()], statement)
        .cluster_metadata(false)
        .build()
        .unwrap();
    run(sink, vec![(1, "short".into(), 1), (2, "long".into(), 3_600)]).await;
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    assert_eq!(common::rows(&server, &table).await, vec![(2, "long".into())]);
}

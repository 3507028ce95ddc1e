//! `cargo xtask bench cassandra`: our sink against a raw `scylla` loop executing the
//! same prepared INSERT with the same number of writes in flight, on the same server
//! in the same run (`CASSANDRA_CONTACT_POINTS`, or the kassandra that `cargo xtask
//! bench cassandra` starts). Prints `cassandra sink_ratio=<r>` (median of
//! `BENCH_ROUNDS`, default 3; our run and the raw loop back to back, in an order that
//! alternates between rounds). `BENCH_RECORDS` (default 100 000).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use connector_cassandra::CassandraSink;
use connector_cassandra::scylla::client::session::Session;
use connector_cassandra::scylla::client::session_builder::SessionBuilder;
use connector_testkit::bench;
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use stream_core::prelude::*;

const KEYSPACE: &str = "bench";
const DEFAULT_RECORDS: u64 = 100_000;
/// Writes in flight on both sides (our default).
const IN_FLIGHT: usize = 64;

fn row(i: u64) -> (i64, String) {
    (i as i64, format!("{i:012} the quick brown fox jumps over the lazy dog"))
}

async fn session(contact: &str) -> Session {
    SessionBuilder::new()
        .known_node(contact)
        .fetch_schema_metadata(false)
        .refresh_metadata_on_auto_schema_agreement(false)
        .build()
        .await
        .unwrap()
}

/// A fresh table; its INSERT statement.
async fn table(contact: &str, name: &str) -> String {
    let session = session(contact).await;
    let replication = "{'class': 'SimpleStrategy', 'replication_factor': 1}";
    let keyspace = format!("CREATE KEYSPACE IF NOT EXISTS {KEYSPACE} WITH replication = {replication}");
    session.query_unpaged(keyspace, &[]).await.unwrap();
    let table = format!("{name}_{}_{}", std::process::id(), fastrand::u32(..));
    session
        .query_unpaged(format!("CREATE TABLE {KEYSPACE}.{table} (id bigint PRIMARY KEY, body text)"), &[])
        .await
        .unwrap();
    format!("INSERT INTO {KEYSPACE}.{table} (id, body) VALUES (?, ?)")
}

/// Rows/s of a raw loop: at most `IN_FLIGHT` executions of the prepared statement at
/// once, timed from making the session. Run on the runtime's workers, as a job's
/// tasks are.
async fn raw(contact: String, statement: String, n: u64) -> f64 {
    tokio::spawn(async move {
        let started = Instant::now();
        let session = session(&contact).await;
        let prepared = session.prepare(statement).await.unwrap();
        let mut in_flight = FuturesUnordered::new();
        for i in 0..n {
            if in_flight.len() >= IN_FLIGHT {
                in_flight.next().await.unwrap();
            }
            let (session, prepared) = (&session, &prepared);
            in_flight.push(async move { session.execute_unpaged(prepared, row(i)).await.unwrap() });
        }
        while in_flight.next().await.is_some() {}
        n as f64 / started.elapsed().as_secs_f64()
    })
    .await
    .unwrap()
}

/// Rows/s of our sink in a job (parallelism 1, checkpoints every second).
async fn ours(contact: &str, statement: &str, n: u64) -> f64 {
    let sink = CassandraSink::<(i64, String)>::builder([contact], statement)
        .max_concurrent_requests(IN_FLIGHT)
        .cluster_metadata(false)
        .build()
        .unwrap();
    bench::bounded_job_rate(&bench::job_env(Duration::from_secs(1)), CollectionSource::from_fn(n, row), sink, n).await
}

fn main() {
    let contact = bench::endpoint("CASSANDRA_CONTACT_POINTS", "cassandra");
    let contact = contact.split(',').next().unwrap_or_default().to_string();
    let n = bench::records(DEFAULT_RECORDS);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let mut ratios = Vec::new();
    runtime.block_on(async {
        for round in 0..bench::rounds(3) {
            let (raw_statement, our_statement) = (table(&contact, "raw").await, table(&contact, "ours").await);
            let (raw_rate, our_rate) =
                bench::pair(round, raw(contact.clone(), raw_statement, n), ours(&contact, &our_statement, n)).await;
            eprintln!("round {round}: raw {raw_rate:.0} rows/s, ours {our_rate:.0} rows/s ({n} rows)");
            ratios.push(our_rate / raw_rate);
        }
    });
    println!("cassandra {}", bench::figure("sink_ratio", &ratios));
}

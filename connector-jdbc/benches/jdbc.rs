//! `cargo xtask bench jdbc`: our sink, at-least-once and exactly-once (two-phase
//! commit, checkpoints every second), against a raw `tokio-postgres` loop of the same
//! batches (5 000 pipelined inserts, each batch a plain transaction), on the same
//! server in the same run (`POSTGRES_URL`, or the PostgreSQL that `cargo xtask bench
//! jdbc` starts). Prints `jdbc sink_alo_ratio=<r> sink_2pc_ratio=<r>` (medians of
//! `BENCH_ROUNDS`, default 3; the sides back to back, in an order that alternates
//! between rounds). `BENCH_RECORDS` (default 200 000) rows per side and round.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use connector_jdbc::tokio_postgres::types::ToSql;
use connector_jdbc::{DeliveryGuarantee, JdbcSinkBuilder, PgConnection, params};
use connector_testkit::bench;
use futures::future::try_join_all;
use stream_core::prelude::*;

const BATCH: u64 = 5_000;

async fn fresh_table(connection: &PgConnection, side: &str) -> String {
    let table = format!("bench_{side}_{}_{}", std::process::id(), fastrand::u32(..));
    let client = connection.connect().await.unwrap();
    client.batch_execute(&format!("CREATE TABLE {table} (id bigint NOT NULL, body text NOT NULL)")).await.unwrap();
    table
}

fn body(i: u64) -> String {
    format!("{i:012} the quick brown fox jumps over the lazy dog")
}

/// Rows/s of the raw loop: one session, each batch `BEGIN`, pipelined inserts, `COMMIT`.
async fn raw(connection: &PgConnection, n: u64) -> f64 {
    let table = fresh_table(connection, "raw").await;
    let started = Instant::now();
    let client = connection.connect().await.unwrap();
    let insert = client.prepare(&format!("INSERT INTO {table} (id, body) VALUES ($1, $2)")).await.unwrap();
    let mut first = 0;
    while first < n {
        let rows: Vec<(i64, String)> = (first..(first + BATCH).min(n)).map(|i| (i as i64, body(i))).collect();
        client.batch_execute("BEGIN").await.unwrap();
        let calls = rows.iter().map(|(id, body)| {
            let params: [&(dyn ToSql + Sync); 2] = [id, body];
            let (client, insert) = (&client, &insert);
            async move { client.execute(insert, &params).await }
        });
        try_join_all(calls).await.unwrap();
        client.batch_execute("COMMIT").await.unwrap();
        first += BATCH;
    }
    n as f64 / started.elapsed().as_secs_f64()
}

/// Rows/s of our sink in a job (parallelism 1, checkpoints every second).
async fn ours(connection: &PgConnection, n: u64, guarantee: DeliveryGuarantee) -> f64 {
    let table = fresh_table(connection, "ours").await;
    let statement = format!("INSERT INTO {table} (id, body) VALUES ($1, $2)");
    let sink = JdbcSinkBuilder::new(connection.clone(), statement, |i: &u64| params![*i as i64, body(*i)])
        .delivery_guarantee(guarantee)
        .transaction_prefix(table.replace('_', "-"))
        .batch_size(BATCH as usize)
        .build()
        .unwrap();
    bench::bounded_job_rate(&bench::job_env(Duration::from_secs(1)), CollectionSource::from_fn(n, |i| i), sink, n).await
}

fn main() {
    let url = bench::endpoint("POSTGRES_URL", "postgres");
    let connection = PgConnection::new(&url);
    let n = bench::records(200_000);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let (mut alo, mut two_pc) = (Vec::new(), Vec::new());
    runtime.block_on(async {
        for round in 0..bench::rounds(3) {
            let (raw_rate, alo_rate) =
                bench::pair(round, raw(&connection, n), ours(&connection, n, DeliveryGuarantee::AtLeastOnce)).await;
            let (raw_again, two_pc_rate) =
                bench::pair(round, raw(&connection, n), ours(&connection, n, DeliveryGuarantee::ExactlyOnce)).await;
            eprintln!(
                "round {round}: raw {raw_rate:.0} / {raw_again:.0} rows/s, ours at-least-once {alo_rate:.0}, two-phase {two_pc_rate:.0} ({n} rows)"
            );
            alo.push(alo_rate / raw_rate);
            two_pc.push(two_pc_rate / raw_again);
        }
    });
    println!("jdbc {} {}", bench::figure("sink_alo_ratio", &alo), bench::figure("sink_2pc_ratio", &two_pc));
}

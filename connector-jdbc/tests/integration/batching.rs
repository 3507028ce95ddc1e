//! When batches go out: full, or once their first row has waited `batch_interval`,
//! without a checkpoint.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::time::Duration;

use connector_jdbc::{DeliveryGuarantee, JdbcSinkBuilder, PgConnection, params};
use stream_core::prelude::*;

/// Rows in `table` after about a second of a job writing 50 rows a second (batches
/// of up to 10 000, no checkpoints) with `interval`, and after its end.
async fn visible_while_running(url: &str, interval: Duration) -> (i64, i64) {
    let table = common::table_name("interval");
    let client = common::client(url).await;
    client.batch_execute(&format!("CREATE TABLE {table} (id bigint)")).await.unwrap();
    let statement = format!("INSERT INTO {table} (id) VALUES ($1)");
    let sink = JdbcSinkBuilder::new(PgConnection::new(url), statement, |id: &u64| params![*id as i64])
        .delivery_guarantee(DeliveryGuarantee::AtLeastOnce)
        .batch_size(10_000)
        .batch_interval(interval)
        .build()
        .unwrap();
    let source = CollectionSource::sequence(0..100).records_per_second(50.0).unwrap();
    let env = StreamEnvironment::builder().parallelism(1).build().unwrap();
    let job = env.from_source(source, "ids").sink_to(sink, "postgres").start("interval");
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    let sql = format!("SELECT count(*) FROM {table}");
    let running: i64 = client.query_one(&sql, &[]).await.unwrap().get(0);
    tokio::time::timeout(Duration::from_secs(30), job.join()).await.expect("no hang").unwrap();
    (running, client.query_one(&sql, &[]).await.unwrap().get(0))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_goes_out_once_its_first_row_waited_the_interval() {
    let Some(url) = common::server().await else { return };
    let (running, ended) = visible_while_running(&url, Duration::from_millis(200)).await;
    assert!(running >= 20, "about 60 rows came in the first 1.2 s, sent every 200 ms: {running} visible");
    assert_eq!(ended, 100);
    let (running, ended) = visible_while_running(&url, Duration::ZERO).await;
    assert_eq!((running, ended), (0, 100), "without an interval, only the end of input sends");
}

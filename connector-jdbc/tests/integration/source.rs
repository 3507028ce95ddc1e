//! JdbcSource against PostgreSQL: the source suite with random crashes over one and
//! several key ranges, a crash at every protocol point, a stopped job resumed
//! mid-split by a new one (reading through a slow proxy), sessions cut mid-read: every
//! row read once. Bad input named.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use common::{FromTable, Stored};
use connector_base::DeliveryGuarantee::ExactlyOnce;
use connector_jdbc::tokio_postgres::Row;
use connector_jdbc::{BadRecordPolicy, JdbcSource, JdbcSourceBuilder, PgConnection};
use connector_testkit::proxy::FaultProxy;
use connector_testkit::{SuiteConfig, run_cut_source_suite, run_resume_source_suite, run_source_suite};
use stream_core::prelude::*;

fn config() -> SuiteConfig {
    SuiteConfig { records: 1_000, ..SuiteConfig::default() }
}

async fn every_row_once(test: &str, splits: usize) {
    let Some(target) = FromTable::new(test, splits).await else { return };
    let verdict = run_source_suite(target, config()).await.unwrap();
    assert!(verdict.crashes >= 1, "{verdict}");
    verdict.check(ExactlyOnce).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_range_reads_every_row_once_across_crashes() {
    every_row_once("src_single", 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_ranges_read_every_row_once_across_crashes() {
    every_row_once("src_ranges", 7).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_row_once_with_a_crash_at_every_protocol_point() {
    let Some(target) = FromTable::new("src_points", 4).await else { return };
    // Slow enough that the read outlasts the four crashes and their restarts (a
    // fast one ended before the last point was reached).
    let (target, _proxy) = through_a_slow_proxy(target).await;
    let points = SuiteConfig::source_crash_at_every_point();
    let config = SuiteConfig { crashes: points.crashes, faults: points.faults, ..config() };
    let verdict = run_source_suite(Arc::new(target), config).await.unwrap();
    assert_eq!(verdict.crashes, 4, "{verdict}");
    verdict.check(ExactlyOnce).unwrap();
}

/// `target` read through a proxy adding 20 ms each way, 10 rows a page.
async fn through_a_slow_proxy(target: Arc<FromTable>) -> (FromTable, FaultProxy) {
    let proxy = FaultProxy::for_endpoint(&target.url).await.unwrap();
    proxy.set_latency(Duration::from_millis(20));
    let mut target = Arc::unwrap_or_clone(target);
    (target.via, target.page_size) = (proxy.endpoint_for(&target.url), 10);
    (target, proxy)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_job_resumes_mid_split_after_its_last_key() {
    let Some(target) = FromTable::new("src_resume", 1).await else { return };
    let (target, _proxy) = through_a_slow_proxy(target).await;
    let verdict = run_resume_source_suite(Arc::new(target), config()).await.unwrap();
    verdict.check(ExactlyOnce).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_cut_mid_read_cost_no_row_and_no_restart() {
    let Some(target) = FromTable::new("src_cut", 1).await else { return };
    let (target, proxy) = through_a_slow_proxy(target).await;
    let verdict = run_cut_source_suite(Arc::new(target), &proxy, 1_000).await.unwrap();
    assert!(verdict.crashes >= 4, "{verdict}");
    verdict.check(ExactlyOnce).unwrap();
}

async fn read<T: Clone + serde::Serialize + serde::de::DeserializeOwned + Send + Sync + 'static>(
    source: JdbcSource<T>,
) -> Result<Vec<T>, String> {
    let env = StreamEnvironment::builder().parallelism(1).restart_strategy(RestartStrategy::None).build().unwrap();
    let collect = CollectSink::new();
    let job = env.from_source(source, "postgres").sink_to(collect.clone(), "collect").execute("read");
    tokio::time::timeout(Duration::from_secs(60), job).await.expect("no hang").map_err(|e| e.to_string())?;
    Ok(collect.committed())
}

fn stored(row: &Row) -> Result<Stored, connector_jdbc::tokio_postgres::Error> {
    Ok(Stored { id: row.try_get("id")?, body: row.try_get("body")? })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_table_column_or_key_type_is_named_at_start() {
    let Some(url) = common::server().await else { return };
    let source =
        |query: &str, key: &str| JdbcSourceBuilder::new(PgConnection::new(&url), query, key, stored).build().unwrap();
    let error = read(source("no_such_table", "id")).await.expect_err("no table");
    assert!(error.contains("no_such_table") && error.contains("42P01"), "{error}");
    let table = common::table_name("src_keys");
    let create = format!(
        "CREATE TABLE {table} (id bigint, body text, at timestamptz); INSERT INTO {table} VALUES (1, 'body-1', now())"
    );
    common::client(&url).await.batch_execute(&create).await.unwrap();
    let error = read(source(&table, "no_such_column")).await.expect_err("no column");
    assert!(error.contains("no column no_such_column") && error.contains("id, body, at"), "{error}");
    let error = read(source(&table, "at")).await.expect_err("a timestamp key");
    assert!(error.contains("at is of type timestamptz"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_keys_nulls_and_undecodable_rows() {
    let Some(url) = common::server().await else { return };
    let table = common::table_name("src_text");
    let create = format!(
        "CREATE TABLE {table} (name varchar(20), body text);
         INSERT INTO {table} VALUES ('b', 'body-2'), ('a', 'body-1'), (NULL, 'never'), ('c', NULL), ('d', 'body-4')"
    );
    common::client(&url).await.batch_execute(&create).await.unwrap();
    let decode = |row: &Row| -> Result<(String, String), connector_jdbc::tokio_postgres::Error> {
        Ok((row.try_get("name")?, row.try_get("body")?))
    };
    let source = || JdbcSourceBuilder::new(PgConnection::new(&url), table.as_str(), "name", decode).page_size(2);
    // 'c' has a null body: a String cannot hold it.
    let error = read(source().build().unwrap()).await.expect_err("a null body");
    assert!(error.contains("name 'c'"), "{error}");
    let rows = read(source().bad_records(BadRecordPolicy::SkipAndCount).build().unwrap()).await.unwrap();
    let names: Vec<&str> = rows.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names, ["a", "b", "d"], "in key order, the null key left out");
}

#[test]
fn bad_source_options_are_named() {
    let err = |configure: fn(JdbcSourceBuilder<Stored>) -> JdbcSourceBuilder<Stored>| {
        let builder = JdbcSourceBuilder::new(PgConnection::new("postgres://h/db"), "t", "id", stored);
        configure(builder).build().err().map(|e| e.to_string()).unwrap_or_default()
    };
    assert!(err(|b| b.page_size(0)).contains("`page_size`"));
    assert!(err(|b| b.splits(0)).contains("`splits`"));
    let bad_key = |_: JdbcSourceBuilder<Stored>| {
        JdbcSourceBuilder::new(PgConnection::new("postgres://h/db"), "t", "id; DROP TABLE t", stored)
    };
    assert!(err(bad_key).contains("`key_column`"));
    assert!(err(|b| b).is_empty());
}

//! CassandraSource against the CQL test server: the source suites (random crashes, a
//! crash at every protocol point, a stopped job resumed by a new one) over pages of
//! 100 rows, every row read once; connections cut mid-read cost nothing; token-range splits where the server can select by
//! token (a real Cassandra or Scylla: kassandra cannot, and the test says so); bad
//! input named.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use common::{KEYSPACE, Row};
use connector_base::DeliveryGuarantee::ExactlyOnce;
use connector_cassandra::CassandraSource;
use connector_testkit::proxy::FaultProxy;
use connector_testkit::{SuiteConfig, run_cut_source_suite, run_resume_source_suite, run_source_suite};
use stream_core::prelude::*;

fn config() -> SuiteConfig {
    // Slow enough that the read spans checkpoints and crashes land mid-table.
    SuiteConfig { records: 3_000, records_per_second: 5_000.0, ..SuiteConfig::default() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_row_is_read_once_across_crashes() {
    let Some(target) = common::FromTable::new("src_random", 1).await else { return };
    let verdict = run_source_suite(target, config()).await.unwrap();
    assert!(verdict.crashes >= 1, "{verdict}");
    verdict.check(ExactlyOnce).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_row_is_read_once_with_a_crash_at_every_protocol_point() {
    // Through a proxy adding 10 ms each way (60 pages of 50 rows, over a second): at
    // full speed the read once ended before the fourth crash's fresh checkpoint.
    let Some((target, _proxy)) = slow_target("src_points", Duration::from_millis(10)).await else { return };
    let points = SuiteConfig::source_crash_at_every_point();
    let verdict = run_source_suite(target, SuiteConfig { crashes: points.crashes, faults: points.faults, ..config() })
        .await
        .unwrap();
    assert_eq!(verdict.crashes, 4, "{verdict}");
    verdict.check(ExactlyOnce).unwrap();
}

/// A target read through a proxy that adds `latency` to every chunk, so that a read
/// of pages of 50 rows takes seconds.
async fn slow_target(test: &str, latency: Duration) -> Option<(Arc<common::FromTable>, FaultProxy)> {
    let target = common::FromTable::new(test, 1).await?;
    let proxy = FaultProxy::for_endpoint(&target.contact_point).await.unwrap();
    proxy.set_latency(latency);
    let mut target = Arc::unwrap_or_clone(target);
    (target.via, target.page_size) = (proxy.endpoint_for(&target.contact_point), 50);
    Some((Arc::new(target), proxy))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_job_resumes_mid_table_from_its_paging_state() {
    let Some((target, _proxy)) = slow_target("src_resume", Duration::from_millis(40)).await else { return };
    let verdict = run_resume_source_suite(target, config()).await.unwrap();
    verdict.check(ExactlyOnce).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_cut_mid_read_cost_no_row_and_no_restart() {
    let Some((target, proxy)) = slow_target("src_cut", Duration::from_millis(10)).await else { return };
    let verdict = run_cut_source_suite(target, &proxy, 2_000).await.unwrap();
    assert!(verdict.crashes >= 1, "{verdict}");
    verdict.check(ExactlyOnce).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_range_splits_read_every_row_once_across_crashes() {
    let Some(target) = common::FromTable::new("src_tokens", 16).await else { return };
    if !common::splits_by_token(&target.contact_point, &target.table).await {
        return;
    }
    let verdict = run_source_suite(target, config()).await.unwrap();
    assert!(verdict.crashes >= 1, "{verdict}");
    verdict.check(ExactlyOnce).unwrap();
}

async fn read(source: CassandraSource<Row>) -> Result<Vec<Row>, String> {
    let env = StreamEnvironment::builder().parallelism(1).restart_strategy(RestartStrategy::None).build().unwrap();
    let collect = CollectSink::new();
    let job = env.from_source(source, "cassandra").sink_to(collect.clone(), "collect").execute("read");
    tokio::time::timeout(Duration::from_secs(60), job).await.expect("no hang").map_err(|e| e.to_string())?;
    Ok(collect.committed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_table_and_rows_of_another_shape_are_named() {
    let Some(server) = common::server().await else { return };
    let query = format!("SELECT id, body FROM {KEYSPACE}.no_such_table");
    let source = CassandraSource::<Row>::builder([server.clone()], &query).splits(1).cluster_metadata(false);
    let error = read(source.build().unwrap()).await.expect_err("an unknown table fails");
    assert!(error.contains("no_such_table") && error.contains("cannot prepare"), "{error}");

    let table = common::table(&server, "src_shape").await;
    common::insert(&server, &table, &[1, 2]).await.unwrap();
    let query = format!("SELECT id, body FROM {KEYSPACE}.{table}");
    let env = StreamEnvironment::builder().parallelism(1).restart_strategy(RestartStrategy::None).build().unwrap();
    // body is text, read as a number.
    let source = CassandraSource::<(i64, i64)>::builder([server], &query).splits(1).cluster_metadata(false);
    let collect = CollectSink::new();
    let job = env.from_source(source.build().unwrap(), "cassandra").sink_to(collect, "collect").execute("shape");
    let error = tokio::time::timeout(Duration::from_secs(60), job).await.unwrap().expect_err("wrong shape").to_string();
    assert!(error.contains(&table) && error.contains("rows of"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_cluster_metadata_more_than_one_split_needs_the_partition_key() {
    let Some(server) = common::server().await else { return };
    let table = common::table(&server, "src_no_key").await;
    let query = format!("SELECT id, body FROM {KEYSPACE}.{table}");
    let source = CassandraSource::<Row>::builder([server], &query).splits(4).cluster_metadata(false);
    let error = read(source.build().unwrap()).await.expect_err("no partition key");
    assert!(error.contains("`partition_key`") && error.contains(&table), "{error}");
}

#[test]
fn queries_and_options_the_source_cannot_use_are_named() {
    type Builder = connector_cassandra::CassandraSourceBuilder<Row>;
    let err = |query: &str, configure: fn(Builder) -> Builder| {
        let builder = CassandraSource::<Row>::builder(["127.0.0.1:9042"], query);
        configure(builder).build().err().map(|e| e.to_string()).unwrap_or_default()
    };
    let same: fn(Builder) -> Builder = |b| b;
    let error = err("SELECT count(*) FROM ks.t", same);
    assert!(error.contains("`query`") && error.contains("aggregate"), "{error}");
    assert!(err("SELECT * FROM ks.t ORDER BY c", same).contains("ORDER BY"));
    assert!(err("SELECT * FROM t", same).contains("keyspace"));
    assert!(err("SELECT * FROM ks.t", |b| b.splits(0)).contains("`splits`"));
    assert!(err("SELECT * FROM ks.t", |b| b.page_size(0)).contains("`page_size`"));
    assert!(err("SELECT * FROM ks.t", |b| b.retry_timeout(Duration::ZERO)).contains("`retry_timeout`"));
    assert!(err("SELECT * FROM ks.t", |b| b.partition_key([""])).contains("`partition_key`"));
    assert!(err("SELECT * FROM ks.t", same).is_empty());
}

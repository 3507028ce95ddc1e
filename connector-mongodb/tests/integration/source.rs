//! MongoSource against the MongoDB test server: the source suite with random crashes
//! for each split strategy, a crash at every protocol point, a stopped job resumed
//! mid-split by a new one (reading through a slow proxy), every document read once;
//! bad input named.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use common::{DATABASE, FromCollection, Stored};
use connector_base::DeliveryGuarantee::ExactlyOnce;
use connector_base::schema::BadRecordPolicy;
use connector_mongodb::mongodb::bson::{Document, doc};
use connector_mongodb::{MongoConnection, MongoSource, MongoSourceBuilder, SplitStrategy};
use connector_testkit::proxy::FaultProxy;
use connector_testkit::{SuiteConfig, run_cut_source_suite, run_resume_source_suite, run_source_suite};
use stream_core::prelude::*;

fn config() -> SuiteConfig {
    SuiteConfig { records: 1_000, ..SuiteConfig::default() }
}

async fn every_document_once(test: &str, strategy: SplitStrategy) {
    let Some(target) = FromCollection::new(test, strategy).await else { return };
    let verdict = run_source_suite(target, config()).await.unwrap();
    assert!(verdict.crashes >= 1, "{verdict}");
    verdict.check(ExactlyOnce).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_split_reads_every_document_once_across_crashes() {
    every_document_once("src_single", SplitStrategy::Single).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sampled_splits_read_every_document_once_across_crashes() {
    every_document_once("src_sample", SplitStrategy::Sample { splits: Some(6), samples_per_split: 5 }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_vector_or_its_fallback_reads_every_document_once_across_crashes() {
    every_document_once("src_vector", SplitStrategy::SplitVector { max_chunk_size_mb: 1 }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paginated_splits_read_every_document_once_across_crashes() {
    every_document_once("src_pages", SplitStrategy::Pagination { documents_per_split: 150 }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_document_once_with_a_crash_at_every_protocol_point() {
    let strategy = SplitStrategy::Sample { splits: Some(4), samples_per_split: 5 };
    let Some(target) = FromCollection::new("src_points", strategy).await else { return };
    let points = SuiteConfig::source_crash_at_every_point();
    let config = SuiteConfig { crashes: points.crashes, faults: points.faults, ..config() };
    let verdict = run_source_suite(target, config).await.unwrap();
    assert_eq!(verdict.crashes, 4, "{verdict}");
    verdict.check(ExactlyOnce).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_job_resumes_mid_split_after_its_last_id() {
    let Some(target) = FromCollection::new("src_resume", SplitStrategy::Single).await else { return };
    let proxy = FaultProxy::for_endpoint(&target.uri).await.unwrap();
    proxy.set_latency(Duration::from_millis(20));
    let mut target = Arc::unwrap_or_clone(target);
    (target.via, target.page_size) = (proxy.endpoint_for(&target.uri), 10);
    let verdict = run_resume_source_suite(Arc::new(target), config()).await.unwrap();
    verdict.check(ExactlyOnce).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_cut_mid_read_cost_no_document_and_no_restart() {
    let Some(target) = FromCollection::new("src_cut", SplitStrategy::Single).await else { return };
    let proxy = FaultProxy::for_endpoint(&target.uri).await.unwrap();
    proxy.set_latency(Duration::from_millis(20));
    let mut target = Arc::unwrap_or_clone(target);
    (target.via, target.page_size) = (proxy.endpoint_for(&target.uri), 10);
    let verdict = run_cut_source_suite(Arc::new(target), &proxy, 1_000).await.unwrap();
    assert!(verdict.crashes >= 4, "{verdict}");
    verdict.check(ExactlyOnce).unwrap();
}

/// A connection cut while the source connects (its `ping`) is tried again: the job
/// reads everything without a restart (the strategy is `None`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_cut_while_connecting_is_tried_again() {
    let Some(uri) = common::server().await else { return };
    let collection = common::collection_name("src_connect_cut");
    let handle = common::client(&uri).await.database(DATABASE).collection::<Document>(&collection);
    handle.insert_many((0..10i64).map(|id| doc! { "_id": id, "body": format!("body-{id}") })).await.unwrap();
    let proxy = FaultProxy::for_endpoint(&uri).await.unwrap();
    proxy.set_latency(Duration::from_millis(150));
    let connection = MongoConnection::new(proxy.endpoint_for(&uri));
    let source = MongoSourceBuilder::<Stored>::new(connection, DATABASE, &collection).build().unwrap();
    let job = tokio::spawn(read(source));
    // Each round trip takes 300 ms. Cuts between 650 and 900 ms hit the enumerator's
    // ping and failed the job when it was sent once (measured); earlier ones hit the
    // driver's handshake, which it repeats itself.
    tokio::time::sleep(Duration::from_millis(750)).await;
    proxy.cut_all();
    let ids: Vec<i64> = job.await.unwrap().unwrap().iter().map(|s| s.id).collect();
    assert!(proxy.stats().cut >= 1, "{:?}", proxy.stats());
    assert_eq!(ids, (0..10).collect::<Vec<_>>());
}

async fn read<T: Clone + serde::Serialize + serde::de::DeserializeOwned + Send + Sync + 'static>(
    source: MongoSource<T>,
) -> Result<Vec<T>, String> {
    let env = StreamEnvironment::builder().parallelism(1).restart_strategy(RestartStrategy::None).build().unwrap();
    let collect = CollectSink::new();
    let job = env.from_source(source, "mongodb").sink_to(collect.clone(), "collect").execute("read");
    tokio::time::timeout(Duration::from_secs(60), job).await.expect("no hang").map_err(|e| e.to_string())?;
    Ok(collect.committed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_database_or_collection_is_named_at_start() {
    let Some(uri) = common::server().await else { return };
    let source = |db: &str, collection: &str| {
        MongoSourceBuilder::<Stored>::new(MongoConnection::new(&uri), db, collection).build().unwrap()
    };
    let error = read(source("no_such_database", "c")).await.expect_err("no database");
    assert!(error.contains("no database no_such_database"), "{error}");
    let error = read(source(DATABASE, "no_such_collection")).await.expect_err("no collection");
    assert!(error.contains("no collection no_such_collection"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ids_of_several_types_are_refused_and_undecodable_documents_follow_the_policy() {
    let Some(uri) = common::server().await else { return };
    let collection = common::collection_name("src_types");
    let handle = common::client(&uri).await.database(DATABASE).collection::<Document>(&collection);
    handle.insert_many([doc! { "_id": 1i64, "body": "body-1" }, doc! { "_id": "two", "body": "x" }]).await.unwrap();
    let source = MongoSourceBuilder::<Stored>::new(MongoConnection::new(&uri), DATABASE, &collection);
    let error = read(source.build().unwrap()).await.expect_err("mixed _id types");
    assert!(error.contains("several types"), "{error}");

    let collection = common::collection_name("src_undecodable");
    let handle = common::client(&uri).await.database(DATABASE).collection::<Document>(&collection);
    let documents = [
        doc! { "_id": 1i64, "body": "body-1" },
        doc! { "_id": 2i64, "body": 2 },
        doc! { "_id": 3i64, "body": "body-3" },
    ];
    handle.insert_many(documents).await.unwrap();
    let source = || MongoSourceBuilder::<Stored>::new(MongoConnection::new(&uri), DATABASE, &collection);
    let error = read(source().build().unwrap()).await.expect_err("body is not a string");
    assert!(error.contains("_id 2"), "{error}");
    let skipping = source().bad_records(BadRecordPolicy::SkipAndCount).build().unwrap();
    let ids: Vec<i64> = read(skipping).await.unwrap().iter().map(|s| s.id).collect();
    assert_eq!(ids, vec![1, 3]);
}

#[test]
fn bad_source_options_are_named() {
    let err = |configure: fn(MongoSourceBuilder<Document>) -> MongoSourceBuilder<Document>| {
        let builder = MongoSourceBuilder::<Document>::new(MongoConnection::new("mongodb://h/"), "db", "c");
        configure(builder).build().err().map(|e| e.to_string()).unwrap_or_default()
    };
    assert!(err(|b| b.page_size(0)).contains("`page_size`"));
    assert!(err(|b| b.projection(doc! { "_id": 0 })).contains("`projection`"));
    let zero_splits = |b: MongoSourceBuilder<Document>| {
        b.split_strategy(SplitStrategy::Sample { splits: Some(0), samples_per_split: 1 })
    };
    assert!(err(zero_splits).contains("`split_strategy`"));
    let zero_pages =
        |b: MongoSourceBuilder<Document>| b.split_strategy(SplitStrategy::Pagination { documents_per_split: 0 });
    assert!(err(zero_pages).contains("`split_strategy`"));
    assert!(err(|b| b).is_empty());
}

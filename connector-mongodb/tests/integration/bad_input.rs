//! Bad input against the MongoDB test server: an unreachable server, credentials kept
//! out of errors and `Debug`, a document over 16 MiB, a duplicate key on a unique
//! index among good documents (by policy), a non-idempotent write under exactly-once,
//! and bad options; each fails naming what is wrong, or goes on as the policy says.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::time::Duration;

use common::DATABASE;
use connector_base::DeliveryGuarantee;
use connector_base::schema::BadRecordPolicy;
use connector_mongodb::mongodb::IndexModel;
use connector_mongodb::mongodb::bson::{Document, doc};
use connector_mongodb::mongodb::options::IndexOptions;
use connector_mongodb::{MongoConnection, MongoSink, MongoSinkBuilder, MongoWrite};
use stream_core::prelude::*;

async fn run<T: Clone + Send + Sync + 'static>(sink: MongoSink<T>, records: Vec<T>) -> Result<(), String> {
    let env = StreamEnvironment::builder()
        .parallelism(1)
        .checkpointing(CheckpointConfig::builder().interval(Duration::from_millis(200)).build().unwrap())
        .restart_strategy(RestartStrategy::None)
        .build()
        .unwrap();
    let job = env.from_source(CollectionSource::new(records), "in").sink_to(sink, "mongodb").execute("bad");
    tokio::time::timeout(Duration::from_secs(120), job).await.expect("no hang").map(drop).map_err(|e| e.to_string())
}

fn sink<T: Send + 'static>(
    uri: &str,
    collection: &str,
    convert: impl Fn(T) -> Result<MongoWrite, connector_mongodb::MongoError> + Send + Sync + 'static,
) -> MongoSinkBuilder<T> {
    MongoSinkBuilder::new(MongoConnection::new(uri), DATABASE, collection, convert)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_server_fails_within_the_timeout_and_no_password_is_shown() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let uri = format!("mongodb://writer:s3cret@127.0.0.1:{port}/?directConnection=true");
    let connection = MongoConnection::new(&uri).server_selection_timeout(Duration::from_secs(2));
    assert!(!format!("{connection:?}").contains("s3cret"), "{connection:?}");
    let sink = MongoSinkBuilder::new(connection, DATABASE, "c", |id: i64| Ok(MongoWrite::insert(doc! { "_id": id })))
        .build()
        .unwrap();
    assert!(!format!("{sink:?}").contains("s3cret"));
    let started = std::time::Instant::now();
    let error = run(sink, vec![1]).await.expect_err("nothing answers");
    assert!(error.contains(&format!("127.0.0.1:{port}")) && error.contains("cannot connect"), "{error}");
    assert!(!error.contains("s3cret"), "{error}");
    assert!(started.elapsed() < Duration::from_secs(30), "took {:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_document_over_16_mib_fails_naming_its_size() {
    let Some(uri) = common::server().await else { return };
    let collection = common::collection_name("too_large");
    let big = |id: i64| Ok(MongoWrite::insert(doc! { "_id": id, "blob": "x".repeat(17 * 1024 * 1024) }));
    let error = run(sink(&uri, &collection, big).build().unwrap(), vec![1]).await.expect_err("too large");
    assert!(error.contains("bytes") || error.contains("size"), "{error}");
}

/// Documents 0..6 with `email` unique; 3 repeats 1's email.
async fn unique_email_collection(uri: &str) -> (String, Vec<i64>) {
    let collection = common::collection_name("unique");
    let index =
        IndexModel::builder().keys(doc! { "email": 1 }).options(IndexOptions::builder().unique(true).build()).build();
    let handle = common::client(uri).await.database(DATABASE).collection::<Document>(&collection);
    handle.create_index(index).await.unwrap();
    (collection, (0..6).collect())
}

fn with_email(id: i64) -> Result<MongoWrite, connector_mongodb::MongoError> {
    let email = if id == 3 { "user-1@example.com".to_string() } else { format!("user-{id}@example.com") };
    Ok(MongoWrite::insert(doc! { "_id": id, "email": email }))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duplicate_key_among_good_documents_follows_the_policy() {
    let Some(uri) = common::server().await else { return };
    let (collection, records) = unique_email_collection(&uri).await;
    let error = run(sink(&uri, &collection, with_email).build().unwrap(), records.clone()).await.expect_err("fails");
    assert!(error.contains(&collection) && error.contains("_id 3") && error.contains("11000"), "{error}");

    let (collection, records) = unique_email_collection(&uri).await;
    let skip = sink(&uri, &collection, with_email).failed_writes(BadRecordPolicy::SkipAndCount);
    run(skip.build().unwrap(), records).await.unwrap();
    let ids: Vec<i64> = common::documents(&uri, &collection).await.iter().map(|d| d.get_i64("_id").unwrap()).collect();
    assert_eq!(ids, vec![0, 1, 2, 4, 5], "the good documents land, the refused one is skipped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_a_replay_would_change_fails_under_exactly_once_naming_why() {
    let Some(uri) = common::server().await else { return };
    let collection = common::collection_name("not_idempotent");
    let inc = |id: i64| Ok(MongoWrite::update(doc! { "_id": id }, doc! { "$inc": { "n": 1 } }, true));
    let exactly_once = sink(&uri, &collection, inc).delivery_guarantee(DeliveryGuarantee::ExactlyOnce);
    let error = run(exactly_once.build().unwrap(), vec![1]).await.expect_err("$inc is refused");
    assert!(error.contains("$inc") && error.contains("at-least-once"), "{error}");
    let no_id = |id: i64| Ok(MongoWrite::insert(doc! { "v": id }));
    let exactly_once = sink(&uri, &collection, no_id).delivery_guarantee(DeliveryGuarantee::ExactlyOnce);
    let error = run(exactly_once.build().unwrap(), vec![1]).await.expect_err("an insert without _id is refused");
    assert!(error.contains("without an _id"), "{error}");
}

#[test]
fn bad_options_are_named() {
    let err = |b: MongoSinkBuilder<i64>| b.build().err().map(|e| e.to_string()).unwrap_or_default();
    let base = |uri: &str, db: &str, c: &str| {
        MongoSinkBuilder::new(MongoConnection::new(uri), db, c, |id: i64| Ok(MongoWrite::delete(doc! { "_id": id })))
    };
    assert!(err(base("http://x", "db", "c")).contains("`uri`"));
    assert!(!err(base("mongodb://u:pw@h/", "db", "c").max_batch_size(0)).contains("pw"));
    assert!(err(base("mongodb://h/", "a.b", "c")).contains("`database`"));
    assert!(err(base("mongodb://h/", "db", "")).contains("`collection`"));
    assert!(
        err(base("mongodb://h/", "db", "c").delivery_guarantee(DeliveryGuarantee::AtMostOnce))
            .contains("`delivery_guarantee`")
    );
    assert!(
        err(base("mongodb://h/", "db", "c")
            .delivery_guarantee(DeliveryGuarantee::ExactlyOnce)
            .max_in_flight_requests(4))
        .contains("`max_in_flight_requests`")
    );
    let zero = MongoConnection::new("mongodb://h/").server_selection_timeout(Duration::ZERO);
    let zero = MongoSinkBuilder::new(zero, "db", "c", |id: i64| Ok(MongoWrite::delete(doc! { "_id": id })));
    assert!(err(zero).contains("`server_selection_timeout`"));
    assert!(err(base("mongodb://h/", "db", "c")).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inserts_replayed_with_the_same_ids_count_as_written() {
    let Some(uri) = common::server().await else { return };
    let collection = common::collection_name("replayed");
    let insert = |id: i64| Ok(MongoWrite::insert(doc! { "_id": id, "body": format!("body-{id}") }));
    for run_number in 0..2 {
        let exactly_once = sink(&uri, &collection, insert).delivery_guarantee(DeliveryGuarantee::ExactlyOnce);
        run(exactly_once.build().unwrap(), (0..20).collect()).await.unwrap_or_else(|e| panic!("run {run_number}: {e}"));
    }
    assert_eq!(common::documents(&uri, &collection).await.len(), 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_credentials_fail_at_start_without_showing_the_password() {
    let Some(uri) = common::server().await else { return };
    let with_user = uri.replacen("mongodb://", "mongodb://nobody:wr0ng-secret@", 1);
    let insert = |id: i64| Ok(MongoWrite::insert(doc! { "_id": id }));
    let sink = MongoSinkBuilder::new(MongoConnection::new(&with_user), DATABASE, "c", insert).build().unwrap();
    let error = run(sink, vec![1]).await.expect_err("the credentials are wrong");
    assert!(error.contains("cannot connect") && error.contains("nobody:***@"), "{error}");
    assert!(!error.contains("wr0ng-secret"), "{error}");
}

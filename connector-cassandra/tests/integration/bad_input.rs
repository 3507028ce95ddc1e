//! Bad input against the CQL test server: an unknown keyspace or table, a record that
//! does not fit the statement, unreachable contact points, a statement that is not
//! idempotent under exactly-once, and bad options; each fails naming what is wrong.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::time::Duration;

use common::{KEYSPACE, Row};
use connector_base::DeliveryGuarantee;
use connector_base::schema::BadRecordPolicy;
use connector_cassandra::{CassandraSink, WriteAhead};

use common::run_into as run;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_table_is_named_at_start() {
    let Some(server) = common::server().await else { return };
    let statement = format!("INSERT INTO {KEYSPACE}.no_such_table (id, body) VALUES (?, ?)");
    let sink = CassandraSink::<Row>::builder([server], &statement).cluster_metadata(false).build().unwrap();
    let error = run(sink, vec![(1, "a".into())]).await.expect_err("an unknown table fails");
    assert!(error.contains("no_such_table") && error.contains("cannot prepare"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_of_the_wrong_type_is_named() {
    let Some(server) = common::server().await else { return };
    let table = common::table(&server, "wrong_type").await;
    let statement = format!("INSERT INTO {KEYSPACE}.{table} (id, body) VALUES (?, ?)");
    // body is text; a number does not fit.
    let sink = CassandraSink::<(i64, i64)>::builder([server], &statement).cluster_metadata(false).build().unwrap();
    let error = run(sink, vec![(1, 2)]).await.expect_err("a wrong type fails");
    assert!(error.contains(&table) && error.contains("writing with"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_the_server_refuses_fails_naming_the_statement_or_is_skipped_by_policy() {
    let Some(server) = common::server().await else { return };
    // A null primary key: the server refuses the write as invalid.
    let records: Vec<(Option<i64>, String)> = vec![(Some(1), "a".into()), (None, "b".into()), (Some(2), "c".into())];
    for write_ahead in [false, true] {
        for policy in [BadRecordPolicy::Fail, BadRecordPolicy::SkipAndCount] {
            let table = common::table(&server, "refused").await;
            let statement = format!("INSERT INTO {KEYSPACE}.{table} (id, body) VALUES (?, ?)");
            let builder = CassandraSink::<(Option<i64>, String)>::builder([server.clone()], &statement)
                .cluster_metadata(false)
                .failed_writes(policy.clone());
            let builder = match write_ahead {
                true => builder.write_ahead(WriteAhead::new(&table, KEYSPACE)),
                false => builder,
            };
            let outcome = run(builder.build().unwrap(), records.clone()).await;
            match policy {
                BadRecordPolicy::Fail => {
                    let error = outcome.expect_err("a refused record fails the job");
                    assert!(error.contains(&table) && error.contains("invalid"), "write_ahead={write_ahead}: {error}");
                }
                _ => {
                    outcome.unwrap();
                    assert_eq!(common::ids(&server, &table).await, vec![1, 2], "write_ahead={write_ahead}");
                }
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_contact_points_fail_within_the_connect_timeout_naming_them() {
    // A port nothing listens on (bound, then released).
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let contact = format!("127.0.0.1:{port}");
    let sink = CassandraSink::<Row>::builder([contact.clone()], "INSERT INTO ks.t (id, body) VALUES (?, ?)")
        .connect_timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let started = std::time::Instant::now();
    let error = run(sink, vec![(1, "a".into())]).await.expect_err("nothing answers");
    assert!(error.contains(&contact) && error.contains("cannot connect"), "{error}");
    assert!(started.elapsed() < Duration::from_secs(30), "took {:?}", started.elapsed());
}

#[test]
fn exactly_once_is_refused_for_statements_that_are_not_idempotent() {
    let refused = |statement: &str| {
        CassandraSink::<(i64, i64)>::builder(["127.0.0.1:9042"], statement)
            .delivery_guarantee(DeliveryGuarantee::ExactlyOnce)
            .build()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    };
    let error = refused("UPDATE ks.hits SET n = n + ? WHERE id = ?");
    assert!(error.contains("`delivery_guarantee`") && error.contains("not idempotent"), "{error}");
    assert!(refused("INSERT INTO ks.t (id, at) VALUES (?, now())").contains("new value on each run"));
    assert!(refused("INSERT INTO ks.t (id, v) VALUES (?, ?)").is_empty(), "a plain upsert is accepted");
}

#[test]
fn bad_options_are_named() {
    let err =
        |b: connector_cassandra::CassandraSinkBuilder<Row>| b.build().err().map(|e| e.to_string()).unwrap_or_default();
    let base = || CassandraSink::<Row>::builder(["127.0.0.1:9042"], "INSERT INTO ks.t (id, body) VALUES (?, ?)");
    assert!(
        err(CassandraSink::<Row>::builder(Vec::<String>::new(), "INSERT INTO ks.t (id) VALUES (?)"))
            .contains("`contact_points`")
    );
    assert!(err(CassandraSink::<Row>::builder(["h:1"], "SELECT * FROM ks.t")).contains("`statement`"));
    assert!(err(base().max_concurrent_requests(0)).contains("`max_concurrent_requests`"));
    assert!(err(base().request_timeout(Duration::ZERO)).contains("`request_timeout`"));
    assert!(err(base().delivery_guarantee(DeliveryGuarantee::AtMostOnce)).contains("`delivery_guarantee`"));
}

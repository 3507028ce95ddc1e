//! Bad input, tried as a user would: an unknown table, a constraint violation, a bad
//! password. Each fails the job at once (none of them heals on a new try) with an
//! error that names it, and nothing of the failed checkpoint is committed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::time::{Duration, Instant};

use connector_jdbc::{DeliveryGuarantee, JdbcSinkBuilder, PgConnection, params};
use connector_testkit::{PrivateServer, TestServer, servers};
use stream_core::prelude::*;

/// Run `ids` into `statement` on `url`; the job's error, and how long it took.
async fn failing_run(url: &str, statement: String, guarantee: DeliveryGuarantee, ids: Vec<u64>) -> (String, Duration) {
    let sink = JdbcSinkBuilder::new(PgConnection::new(url), statement, |id: &u64| params![*id as i64])
        .delivery_guarantee(guarantee)
        .transaction_prefix(common::table_name("bad").replace('_', "-"))
        .build()
        .unwrap();
    let env = StreamEnvironment::builder().restart_strategy(RestartStrategy::None).build().unwrap();
    let started = Instant::now();
    let job = env.from_source(CollectionSource::new(ids), "ids").sink_to(sink, "postgres").execute("bad-input");
    let error = tokio::time::timeout(Duration::from_secs(60), job).await.expect("no hang").expect_err("a failure");
    (error.to_string(), started.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_table_fails_at_start_naming_it() {
    let Some(url) = common::server().await else { return };
    let statement = "INSERT INTO no_such_table (id) VALUES ($1)".to_string();
    let (error, took) = failing_run(&url, statement, DeliveryGuarantee::AtLeastOnce, vec![1]).await;
    assert!(error.contains("no_such_table") && error.contains("42P01"), "{error}");
    assert!(took < Duration::from_secs(5), "not tried again: {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_constraint_violation_fails_naming_the_constraint_and_commits_nothing_of_its_checkpoint() {
    let Some(url) = common::server().await else { return };
    for guarantee in [DeliveryGuarantee::AtLeastOnce, DeliveryGuarantee::ExactlyOnce] {
        let table = common::table_name("violation");
        common::client(&url)
            .await
            .batch_execute(&format!("CREATE TABLE {table} (id bigint PRIMARY KEY)"))
            .await
            .unwrap();
        let statement = format!("INSERT INTO {table} (id) VALUES ($1)");
        let (error, took) = failing_run(&url, statement, guarantee, vec![1, 2, 3, 2]).await;
        assert!(error.contains(&format!("{table}_pkey")) && error.contains("23505"), "{guarantee}: {error}");
        assert!(took < Duration::from_secs(5), "{guarantee}: not tried again: {took:?}");
        let rows = common::client(&url).await.query(&format!("SELECT id FROM {table}"), &[]).await.unwrap();
        assert_eq!(rows.len(), 0, "{guarantee}: the batch is one transaction, rolled back whole");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_password_fails_at_once_naming_the_login_not_the_password() {
    let Some(shared) = TestServer::discover(&servers::POSTGRES).await.unwrap() else { return };
    let server = PrivateServer::start(&servers::POSTGRES, &shared, &[]).await.unwrap();
    // A password, then password logins only: the server's own pg_hba.conf rewritten
    // from SQL (the file is the server's, on the host or in its container).
    let admin = common::client(server.endpoint()).await;
    admin.batch_execute("ALTER ROLE postgres PASSWORD 'right-one'").await.unwrap();
    let hba: String = admin.query_one("SELECT current_setting('hba_file')", &[]).await.unwrap().get(0);
    let rules = format!("COPY (SELECT 'host all all all scram-sha-256') TO '{hba}'; SELECT pg_reload_conf()");
    admin.batch_execute(&rules).await.unwrap();
    let with_password =
        |password: &str| server.endpoint().replace("postgres://postgres@", &format!("postgres://postgres:{password}@"));
    PgConnection::new(with_password("right-one")).connect().await.expect("the right password logs in");
    let table = common::table_name("password");
    let statement = format!("INSERT INTO {table} (id) VALUES ($1)");
    let (error, took) =
        failing_run(&with_password("wrong-one"), statement, DeliveryGuarantee::AtLeastOnce, vec![1]).await;
    assert!(error.contains("password authentication failed") && error.contains("28P01"), "{error}");
    assert!(!error.contains("wrong-one"), "the password never shows: {error}");
    assert!(took < Duration::from_secs(5), "not tried again: {took:?}");
}

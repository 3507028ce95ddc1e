//! Connecting, the prepared-transaction check, and the two-phase commands the sink
//! relies on, against the real server.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use connector_jdbc::{JdbcError, PgConnection};
use connector_testkit::{PrivateServer, TestServer, servers};

#[tokio::test]
async fn a_prepared_transaction_is_committed_from_another_session_and_an_unknown_one_is_named() {
    let Some(url) = common::server().await else { return };
    let connection = PgConnection::new(&url);
    let writer = connection.connect().await.unwrap();
    assert!(connection.check_prepared_transactions(&writer).await.unwrap() >= 1);
    let table = common::table_name("prepared");
    writer.batch_execute(&format!("CREATE TABLE {table} (id bigint PRIMARY KEY)")).await.unwrap();
    let gid = format!("{table}:0:1");
    writer.batch_execute(&format!("BEGIN; INSERT INTO {table} VALUES (1); PREPARE TRANSACTION '{gid}'")).await.unwrap();
    // Not visible before the commit, from any session.
    let committer = connection.connect().await.unwrap();
    assert_eq!(count(&committer, &table).await, 0);
    committer.batch_execute(&format!("COMMIT PREPARED '{gid}'")).await.unwrap();
    assert_eq!(count(&committer, &table).await, 1);
    // A second commit: SQLSTATE 42704, which the sink tells apart by its code.
    let again = committer.batch_execute(&format!("COMMIT PREPARED '{gid}'")).await.unwrap_err();
    assert_eq!(again.code(), Some(&connector_jdbc::tokio_postgres::error::SqlState::UNDEFINED_OBJECT), "{again:?}");
}

async fn count(client: &connector_jdbc::tokio_postgres::Client, table: &str) -> i64 {
    client.query_one(&format!("SELECT count(*) FROM {table}"), &[]).await.unwrap().get(0)
}

#[tokio::test]
async fn a_server_without_prepared_transactions_is_named_with_the_setting() {
    let Some(shared) = TestServer::discover(&servers::POSTGRES).await.unwrap() else { return };
    let server =
        PrivateServer::start(&servers::POSTGRES, &shared, &["max_prepared_transactions=0".into()]).await.unwrap();
    let connection = PgConnection::new(server.endpoint());
    let client = connection.connect().await.unwrap();
    let error = connection.check_prepared_transactions(&client).await.unwrap_err();
    assert!(matches!(error, JdbcError::NoPreparedTransactions(0)), "{error}");
    assert!(error.to_string().contains("max_prepared_transactions"), "{error}");
}

#[tokio::test]
async fn an_unreachable_server_is_named_without_its_password() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let connection = PgConnection::new(format!("postgres://app:s3cret@127.0.0.1:{port}/x"));
    let error = connection.connect().await.unwrap_err().to_string();
    assert!(error.contains("cannot connect") && error.contains(&port.to_string()), "{error}");
    assert!(!error.contains("s3cret"), "{error}");
}

#[tokio::test]
async fn a_parameter_of_the_wrong_type_fails_at_once_naming_the_types() {
    use connector_jdbc::{DeliveryGuarantee, JdbcSinkBuilder, params};
    use stream_core::prelude::*;
    let Some(url) = common::server().await else { return };
    let table = common::table_name("wrong_type");
    common::client(&url).await.batch_execute(&format!("CREATE TABLE {table} (id bigint)")).await.unwrap();
    // An i32 for a bigint column: tokio-postgres refuses it before sending anything.
    let statement = format!("INSERT INTO {table} (id) VALUES ($1)");
    let sink = JdbcSinkBuilder::new(PgConnection::new(&url), statement, |id: &u64| params![*id as i32])
        .delivery_guarantee(DeliveryGuarantee::AtLeastOnce)
        .build()
        .unwrap();
    let env = StreamEnvironment::builder().restart_strategy(RestartStrategy::None).build().unwrap();
    let started = std::time::Instant::now();
    let job = env.from_source(CollectionSource::sequence(0..10), "ids").sink_to(sink, "postgres").execute("wrong-type");
    let error = tokio::time::timeout(std::time::Duration::from_secs(30), job).await.expect("no hang").unwrap_err();
    let error = error.to_string();
    assert!(error.contains("int8") && error.contains("i32"), "{error}");
    assert!(started.elapsed() < std::time::Duration::from_secs(5), "not sent again: {:?}", started.elapsed());
}

#[tokio::test]
async fn sslmode_require_is_encrypted_and_checks_the_certificate() {
    use connector_testkit::servers::POSTGRES_TLS;
    let Some(shared) = TestServer::discover(&servers::POSTGRES).await.unwrap() else { return };
    let server = PrivateServer::start(&servers::POSTGRES, &shared, &[POSTGRES_TLS.into()]).await.unwrap();
    // The server's own CA, read through a plain session.
    let ca: String =
        common::client(server.endpoint()).await.query_one("SELECT pg_read_file('ca.crt')", &[]).await.unwrap().get(0);
    let ca_file = std::env::temp_dir().join(format!("{}.pem", common::table_name("ca")));
    std::fs::write(&ca_file, ca).unwrap();
    let url = format!("{}?sslmode=require", server.endpoint());

    let client = PgConnection::new(&url).root_certificates(&ca_file).connect().await.unwrap();
    let row = client.query_one("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", &[]).await.unwrap();
    assert!(row.get::<_, bool>(0), "the session is encrypted");

    let untrusted = PgConnection::new(&url).connect().await.unwrap_err().to_string();
    assert!(untrusted.contains("certificate") && untrusted.contains("UnknownIssuer"), "{untrusted}");
    let plain_server = format!("{}?sslmode=require", shared.endpoint);
    let refused = PgConnection::new(plain_server).root_certificates(&ca_file).connect().await.unwrap_err().to_string();
    assert!(refused.contains("TLS"), "{refused}");
    let missing = PgConnection::new(&url).root_certificates("/no/such/ca.pem").validate().unwrap_err().to_string();
    assert!(missing.contains("/no/such/ca.pem"), "{missing}");
    let _ = std::fs::remove_file(ca_file);
}

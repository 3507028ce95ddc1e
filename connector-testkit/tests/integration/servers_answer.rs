//! The test servers this workspace relies on answer their protocols at the endpoints
//! discovery finds (in CI: started by `cargo xtask services up`, and required).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use connector_testkit::{TestServer, probe, servers};

async fn check(server: TestServer, probe: fn(&str) -> Result<(), String>) {
    let Some(found) = server.discover().await.unwrap() else { return };
    let address = probe::host_port(&found.endpoint);
    let shown = connector_base::redact_url(&found.endpoint);
    probe(&address).unwrap_or_else(|e| panic!("{} at {shown} ({}): {e}", server.system, found.origin));
}

#[tokio::test]
async fn redis_answers() {
    check(servers::REDIS, probe::redis).await;
}

#[tokio::test]
async fn rabbitmq_answers() {
    check(servers::RABBITMQ, probe::amqp).await;
}

#[tokio::test]
async fn kafka_answers() {
    check(servers::KAFKA, probe::kafka).await;
}

#[tokio::test]
async fn s3_answers() {
    check(servers::S3, probe::s3).await;
}

#[tokio::test]
async fn dynamodb_answers() {
    check(servers::DYNAMODB, probe::dynamodb).await;
}

#[tokio::test]
async fn kinesis_answers() {
    check(servers::KINESIS, probe::kinesis).await;
}

#[tokio::test]
async fn cassandra_answers() {
    check(servers::CASSANDRA, probe::cassandra).await;
}

#[tokio::test]
async fn mongodb_answers() {
    check(servers::MONGODB, probe::mongodb).await;
}

#[tokio::test]
async fn postgres_answers() {
    check(servers::POSTGRES, probe::postgres).await;
}

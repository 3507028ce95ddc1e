//! ElasticsearchSink against noida-db's Elasticsearch endpoint: every kind of
//! action leaves the documents it should, documents refused by the index mapping
//! follow the failure policy, a busy cluster's 429s are retried, and bad input fails
//! naming what is wrong (the scenarios live in connector-search, shared with
//! OpenSearch).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use connector_elasticsearch::Elasticsearch;
use connector_testkit::search;
use connector_testkit::{TestServer, servers};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_action_lands_as_documented() {
    let Some(server) = TestServer::discover(&servers::ELASTICSEARCH).await.unwrap() else { return };
    search::every_action_lands_as_documented::<Elasticsearch>(&server.endpoint).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_documents_follow_the_failure_policy() {
    let Some(server) = TestServer::discover(&servers::ELASTICSEARCH).await.unwrap() else { return };
    search::refused_documents_follow_the_policy::<Elasticsearch>(&server.endpoint).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_fails_naming_what_is_wrong() {
    let Some(server) = TestServer::discover(&servers::ELASTICSEARCH).await.unwrap() else { return };
    search::bad_input_is_named::<Elasticsearch>(&server.endpoint).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_cluster_answering_429_is_retried_within_max_retries_per_action() {
    let Some(server) = TestServer::discover(&servers::ELASTICSEARCH).await.unwrap() else { return };
    search::a_busy_cluster_is_retried::<Elasticsearch>(&server.endpoint).await;
}

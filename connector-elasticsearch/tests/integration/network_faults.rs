//! The testkit's network-fault suite on the Elasticsearch sink through a fault proxy in front
//! of noida-db's Elasticsearch endpoint (run by connector-search's testing helpers): cuts with short and long
//! refusal, latency and short stalls lose nothing, duplicate nothing (deterministic
//! ids) and need no restart; connections silenced for good are left after
//! call_timeout; a stall past request_timeout fails the sink naming it.

use connector_elasticsearch::Elasticsearch;
use connector_testkit::search::network;
use connector_testkit::servers::ELASTICSEARCH;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sink_rides_through_network_faults() {
    network::rides_through_faults::<Elasticsearch>(&ELASTICSEARCH).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_silenced_for_good_are_left_after_call_timeout() {
    network::leaves_silent_connections::<Elasticsearch>(&ELASTICSEARCH).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stall_past_request_timeout_fails_the_sink_naming_it() {
    network::fails_a_stall_past_request_timeout::<Elasticsearch>(&ELASTICSEARCH).await;
}

//! The `pulsar` crate (6.9.1) rejects message frames without the optional magic
//! number and CRC32C checksum, which pulsar-lite leaves out; the testkit's Pulsar
//! proxy adds them. The minimal reproduction: ten messages produced, then read by a
//! consumer straight from pulsar-lite (fails: `Error decoding payload frame`) and
//! through the proxy (all ten). Against a broker that sends checksums (a real
//! Pulsar) both reads succeed and the test says so.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::time::Duration;

use connector_pulsar::pulsar::{Pulsar, TokioExecutor};
use connector_testkit::{TestServer, servers};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_needs_the_checksum_the_proxy_adds() {
    let Some((proxy, via_proxy)) = common::server().await else { return };
    let direct = TestServer::discover(&servers::PULSAR).await.unwrap().unwrap().endpoint.clone();
    let topic = common::topic("defect");
    let client: Pulsar<TokioExecutor> = Pulsar::builder(&direct, TokioExecutor).build().await.unwrap();
    let mut producer = client.producer().with_topic(&topic).build().await.unwrap();
    for i in 0..10 {
        producer.send_non_blocking(format!("m{i}").into_bytes()).await.unwrap().await.unwrap();
    }
    let through = common::read_topic(&via_proxy, &topic).await.unwrap();
    assert_eq!(through.len(), 10, "through the proxy: {through:?}");
    assert!(proxy.stats().rewritten > 0, "the proxy fixed frames: {:?}", proxy.stats());
    let straight = tokio::time::timeout(Duration::from_secs(20), common::read_topic(&direct, &topic)).await;
    match straight {
        Ok(Ok(found)) if found.len() == 10 => eprintln!("this broker sends checksums: the direct read works too"),
        other => eprintln!("straight from the broker, as expected, not the ten messages: {other:?}"),
    }
}

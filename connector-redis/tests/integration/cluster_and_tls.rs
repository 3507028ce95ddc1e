//! The sink and the source through the other connection kinds: a three-node Redis
//! Cluster (private nodes of this test; keys spread over the nodes, so a batch goes to
//! several of them) and a TLS-only server (`rediss://`, certificate made for the test).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::process::Command;

use connector_base::DeliveryGuarantee;
use connector_redis::{CommandKind, RedisCommand, RedisEndpoint, RedisSinkBuilder, RedisStreamsSource, StreamEntry};
use connector_testkit::{PrivateServer, TestServer, servers};
use stream_core::prelude::*;

/// Write 2 000 SETs and 300 stream entries (3 streams) through `endpoint`, read the
/// streams back with the source, and return (keys found, entries read).
async fn round_trip(endpoint: RedisEndpoint, prefix: &str) -> (usize, usize) {
    let p = prefix.to_string();
    let sink = RedisSinkBuilder::new(endpoint.clone(), CommandKind::Set, move |id: u64| RedisCommand::Set {
        key: format!("{p}:{id}"),
        value: id.to_string().into_bytes(),
        ttl_ms: None,
    })
    .delivery_guarantee(DeliveryGuarantee::ExactlyOnce)
    .build()
    .unwrap();
    let env = || StreamEnvironment::builder().parallelism(2).build().unwrap();
    env()
        .from_source(CollectionSource::sequence(0..2_000u64), "ids")
        .sink_to(sink, "redis")
        .execute("sets")
        .await
        .unwrap();

    let streams: Vec<String> = (0..3).map(|i| format!("{prefix}-stream-{i}")).collect();
    let s = streams.clone();
    let xadd = RedisSinkBuilder::new(endpoint.clone(), CommandKind::XAdd, move |id: u64| RedisCommand::XAdd {
        key: s[id as usize % 3].clone(),
        id: None,
        fields: vec![("id".into(), id.to_string().into_bytes())],
    })
    .build()
    .unwrap();
    env()
        .from_source(CollectionSource::sequence(0..300u64), "ids")
        .sink_to(xadd, "redis")
        .execute("xadds")
        .await
        .unwrap();
    let source = RedisStreamsSource::builder(endpoint.clone()).streams(streams).bounded().build().unwrap();
    let out = CollectSink::<StreamEntry>::new();
    env().from_source(source, "streams").sink_to(out.clone(), "collect").execute("read").await.unwrap();
    let mut ids: Vec<u64> =
        out.committed().iter().map(|e| String::from_utf8_lossy(e.field("id").unwrap()).parse().unwrap()).collect();
    ids.sort();
    ids.dedup();

    // Count the keys with one connection per URL form (GET on each key; the cluster
    // client routes each to its node).
    let conn = &mut connector_redis_conn(&endpoint).await;
    let mut found = 0;
    for id in 0..2_000u64 {
        let mut get = connector_redis::redis::cmd("GET");
        get.arg(format!("{prefix}:{id}"));
        let v: Option<String> = match conn {
            Conn::Cluster(c) => get.query_async(c).await.unwrap(),
            Conn::Single(c) => get.query_async(c).await.unwrap(),
        };
        if v == Some(id.to_string()) {
            found += 1;
        }
    }
    (found, ids.len())
}

enum Conn {
    Cluster(connector_redis::redis::cluster_async::ClusterConnection),
    Single(connector_redis::redis::aio::MultiplexedConnection),
}

async fn connector_redis_conn(endpoint: &RedisEndpoint) -> Conn {
    let urls = endpoint.redacted(); // no passwords in these tests
    let urls: Vec<&str> = urls.split(',').collect();
    if urls.len() > 1 {
        let client = connector_redis::redis::cluster::ClusterClient::new(urls).unwrap();
        Conn::Cluster(client.get_async_connection().await.unwrap())
    } else {
        Conn::Single(
            connector_redis::redis::Client::open(urls[0]).unwrap().get_multiplexed_async_connection().await.unwrap(),
        )
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_three_node_cluster_gets_every_key_and_entry() {
    let Some(shared) = TestServer::discover(&servers::REDIS).await.unwrap() else { return };
    let mut nodes = Vec::new();
    for _ in 0..3 {
        // The cluster bus on a port known free: by default it is the node's port +
        // 10 000, which another process may hold (a CI run failed on that).
        let bus = connector_testkit::free_port().unwrap().to_string();
        let cluster = ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-port", &bus]
            .map(String::from);
        nodes.push(PrivateServer::start(&servers::REDIS, &shared, &cluster).await.unwrap());
    }
    let addresses: Vec<String> = nodes.iter().map(|n| format!("127.0.0.1:{}", n.port())).collect();
    let mut create = vec!["redis-cli", "--cluster", "create"];
    create.extend(addresses.iter().map(String::as_str));
    create.extend(["--cluster-replicas", "0", "--cluster-yes"]);
    nodes[0].run_tool(&create).await.unwrap();
    // Wait until every node sees all 16 384 slots covered.
    for (node, address) in nodes.iter().zip(&addresses) {
        let (host, port) = address.split_once(':').unwrap();
        for _ in 0..100 {
            let info = node.run_tool(&["redis-cli", "-h", host, "-p", port, "cluster", "info"]).await.unwrap();
            if info.contains("cluster_state:ok") {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
    let endpoint = RedisEndpoint::cluster(addresses.iter().map(|a| format!("redis://{a}")));
    let (keys, entries) = round_trip(endpoint, &common::unique("cluster")).await;
    assert_eq!((keys, entries), (2_000, 300));
    // The keys really are spread: every node holds some.
    for (node, address) in nodes.iter().zip(&addresses) {
        let (host, port) = address.split_once(':').unwrap();
        let size = node.run_tool(&["redis-cli", "-h", host, "-p", port, "dbsize"]).await.unwrap();
        let size: u64 = size.trim().parse().unwrap();
        assert!(size > 100, "node {address} holds {size} keys");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_only_server_is_reached_with_rediss() {
    let Some(shared) = TestServer::discover(&servers::REDIS).await.unwrap() else { return };
    let certs = tempfile::tempdir().unwrap();
    let (key, cert) = (certs.path().join("key.pem"), certs.path().join("cert.pem"));
    let made = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1"])
        .args(["-keyout", &key.display().to_string(), "-out", &cert.display().to_string()])
        .output()
        .unwrap();
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    // The plain port only serves the readiness probe; clients use the TLS port.
    let port = connector_testkit::free_port().unwrap();
    let (k, c) = (key.display().to_string(), cert.display().to_string());
    let tls =
        ["--tls-port", &port.to_string(), "--tls-cert-file", &c, "--tls-key-file", &k, "--tls-auth-clients", "no"]
            .map(String::from);
    let server = PrivateServer::start_with_files(&servers::REDIS, &shared, &tls, Some(certs.path())).await.unwrap();
    // A self-signed certificate: verification off for the test (`#insecure`).
    let endpoint = RedisEndpoint::standalone(format!("rediss://127.0.0.1:{port}/#insecure"));
    let (keys, entries) = round_trip(endpoint, &common::unique("tls")).await;
    assert_eq!((keys, entries), (2_000, 300));
    // And the plain protocol is refused on the TLS port: the connection really is TLS.
    let plain = RedisSinkBuilder::new(
        RedisEndpoint::standalone(format!("redis://127.0.0.1:{port}")),
        CommandKind::Set,
        |id: u64| RedisCommand::Set { key: id.to_string(), value: vec![], ttl_ms: None },
    )
    .build()
    .unwrap();
    let err = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        StreamEnvironment::builder()
            .build()
            .unwrap()
            .from_source(CollectionSource::sequence(0..1u64), "one")
            .sink_to(plain, "redis")
            .execute("plain"),
    )
    .await
    .unwrap();
    assert!(err.is_err());
    drop(server);
}

//! Bad input, tried as a user would: a broker that is not there, a message larger
//! than the broker takes, bad options. Each fails naming what is wrong.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::time::{Duration, Instant};

use connector_pulsar::{BytesSchema, PulsarSinkBuilder, Utf8Schema};
use stream_core::prelude::*;

async fn run(sink: connector_pulsar::PulsarSink<Vec<u8>>, records: Vec<Vec<u8>>) -> Result<(), String> {
    let env = StreamEnvironment::builder().parallelism(1).restart_strategy(RestartStrategy::None).build().unwrap();
    let job = env.from_source(CollectionSource::new(records), "records").sink_to(sink, "pulsar").execute("bad-input");
    tokio::time::timeout(Duration::from_secs(60), job).await.expect("no hang").map(drop).map_err(|e| e.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_that_is_not_there_fails_at_start_naming_it() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("pulsar://127.0.0.1:{port}");
    let sink = PulsarSinkBuilder::new(&url, "t", BytesSchema).connect_timeout(Duration::from_secs(3)).build().unwrap();
    let started = Instant::now();
    let error = run(sink, vec![b"x".to_vec()]).await.expect_err("no broker");
    assert!(error.contains(&format!("127.0.0.1:{port}")), "{error}");
    assert!(started.elapsed() < Duration::from_secs(20), "{:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_larger_than_the_broker_takes_fails_naming_the_topic() {
    let Some((_proxy, url)) = common::server().await else { return };
    let topic = common::topic("oversized");
    let sink = PulsarSinkBuilder::new(&url, &topic, BytesSchema).send_timeout(Duration::from_secs(10)).build().unwrap();
    // pulsar-lite and Pulsar take 5 MiB a message by default: the sink says so at once.
    let started = Instant::now();
    let error = run(sink, vec![vec![b'x'; 6 * 1024 * 1024]]).await.expect_err("too large");
    assert!(error.contains(&topic) && error.contains("6291456 bytes"), "{error}");
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    // Raised above the broker's limit, the broker's refusal (no receipt) fails it.
    let sink = PulsarSinkBuilder::new(&url, &topic, BytesSchema)
        .max_message_size(10 * 1024 * 1024)
        .send_timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let error = run(sink, vec![vec![b'x'; 6 * 1024 * 1024]]).await.expect_err("refused by the broker");
    assert!(error.contains(&topic), "{error}");
}

#[test]
fn bad_options_are_named() {
    let err = |b: PulsarSinkBuilder<String>| b.build().err().map(|e| e.to_string()).unwrap_or_default();
    let ok = || PulsarSinkBuilder::new("pulsar://127.0.0.1:6650", "t", Utf8Schema);
    assert!(err(PulsarSinkBuilder::new("http://h:1", "t", Utf8Schema)).contains("`url`"));
    assert!(err(PulsarSinkBuilder::new("pulsar://", "t", Utf8Schema)).contains("`url`"));
    assert!(err(PulsarSinkBuilder::new("pulsar://h:1", " ", Utf8Schema)).contains("`topic`"));
    assert!(err(ok().batch_size(1)).contains("`batch_size`"));
    assert!(err(ok().max_pending(0)).contains("`max_pending`"));
    assert!(err(ok().max_message_size(0)).contains("`max_message_size`"));
    assert!(err(ok().send_timeout(Duration::ZERO)).contains("`send_timeout`"));
    assert!(err(ok()).is_empty());
}

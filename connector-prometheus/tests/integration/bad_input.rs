//! Bad input, tried as a user would: a sample Prometheus refuses among good series
//! (each policy), an endpoint that is not there or not a remote-write receiver, a
//! series with a bad name, bad options. Each is named.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::time::Duration;

use common::{METRIC, now_ms};
use connector_prometheus::{PrometheusSinkBuilder, RejectedSamples, TimeSeries};
use stream_core::prelude::*;

/// Write `records` (series label, timestamp) through a sink of `builder`; the job's
/// error, if any.
async fn write(builder: PrometheusSinkBuilder<(String, i64)>, records: Vec<(String, i64)>) -> Result<(), String> {
    let sink = builder.max_time_in_buffer(Duration::from_secs(30)).build().unwrap();
    let env = StreamEnvironment::builder().parallelism(1).restart_strategy(RestartStrategy::None).build().unwrap();
    let job =
        env.from_source(CollectionSource::new(records), "samples").sink_to(sink, "prometheus").execute("bad-input");
    tokio::time::timeout(Duration::from_secs(60), job).await.expect("no hang").map(drop).map_err(|e| e.to_string())
}

fn builder(url: &str, run: &str) -> PrometheusSinkBuilder<(String, i64)> {
    let run = run.to_string();
    PrometheusSinkBuilder::new(format!("{url}/api/v1/write"), move |(series, at): (String, i64)| {
        TimeSeries::builder(METRIC).label("run", &run).label("series", series).sample(at, 1.0).build()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sample_out_of_bounds_among_good_series_follows_the_policy() {
    let Some(url) = common::server().await else { return };
    let run = format!("bounds_{}_{}", std::process::id(), fastrand::u32(..));
    let now = now_ms();
    // A recent sample first: out of bounds is measured from the newest sample.
    write(builder(&url, &run), vec![("recent".into(), now)]).await.unwrap();
    let mut records: Vec<(String, i64)> = (0..10).map(|i| (format!("good-{i}"), now - 1_000 + i)).collect();
    records.insert(5, ("three-hours-old".into(), now - 3 * 3_600 * 1_000));
    // One request holds all eleven: Prometheus refuses it whole.
    write(builder(&url, &run), records.clone()).await.unwrap();
    let found = common::samples(&url, &run).await;
    let mut series: Vec<&str> = found.iter().map(|(s, _, _)| s.as_str()).collect();
    series.sort_unstable();
    let mut expected: Vec<String> = (0..10).map(|i| format!("good-{i}")).collect();
    expected.push("recent".into());
    expected.sort_unstable();
    assert_eq!(series, expected, "the good series written, the refused sample dropped");

    let failing = builder(&url, &format!("{run}_fail")).rejected_samples(RejectedSamples::Fail);
    let error = write(failing, records).await.expect_err("Fail stops the job");
    assert!(error.contains("three-hours-old") && error.contains("out of bounds"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_that_is_not_there_or_not_a_receiver_fails_at_start_naming_it() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let nowhere = format!("http://127.0.0.1:{port}");
    let started = std::time::Instant::now();
    let waiting = builder(&nowhere, "x").startup_timeout(Duration::from_secs(2));
    let error = write(waiting, vec![("a".into(), now_ms())]).await.expect_err("no server");
    assert!(error.contains(&format!("127.0.0.1:{port}/api/v1/write")), "{error}");
    // It waited for the endpoint (`startup_timeout`), then gave up.
    let waited = started.elapsed();
    assert!(waited >= Duration::from_secs(2) && waited < Duration::from_secs(15), "{waited:?}");
    let Some(url) = common::server().await else { return };
    let wrong_path = PrometheusSinkBuilder::new(format!("{url}/api/v1/nowhere"), |(s, at): (String, i64)| {
        TimeSeries::builder(METRIC).label("series", s).sample(at, 1.0).build()
    });
    let started = std::time::Instant::now();
    let error = write(wrong_path, vec![("a".into(), now_ms())]).await.expect_err("not a receiver");
    assert!(error.contains("404"), "{error}");
    assert!(started.elapsed() < Duration::from_secs(2), "a refusal is not waited out: {:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_series_with_a_bad_name_fails_naming_it() {
    let Some(url) = common::server().await else { return };
    let bad = PrometheusSinkBuilder::new(format!("{url}/api/v1/write"), |(s, at): (String, i64)| {
        TimeSeries::builder("bad-metric-name").label("series", s).sample(at, 1.0).build()
    });
    let error = write(bad, vec![("a".into(), now_ms())]).await.expect_err("a bad name");
    assert!(error.contains("bad-metric-name"), "{error}");
}

#[test]
fn bad_options_are_named() {
    let err = |b: PrometheusSinkBuilder<(String, i64)>| b.build().err().map(|e| e.to_string()).unwrap_or_default();
    assert!(err(builder("not a url", "x")).contains("`url`"));
    assert!(err(builder("ftp://h", "x")).contains("`url`"));
    assert!(err(builder("http://h", "x").header("bad header", "v")).contains("`header`"));
    assert!(err(builder("http://h", "x").max_in_flight_requests(2)).contains("`max_in_flight_requests`"));
    assert!(err(builder("http://h", "x").startup_timeout(Duration::ZERO)).contains("`startup_timeout`"));
    assert!(err(builder("http://h", "x")).is_empty());
}

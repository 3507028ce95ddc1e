//! A sink with the AWS SigV4 signer writes to the test server (which does not check
//! signatures): the signed requests are still well-formed remote writes. That the
//! signature is right is the unit test's (AWS's signing test suite); Amazon Managed
//! Service for Prometheus itself is not here to check it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::time::Duration;

use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use common::{METRIC, now_ms};
use connector_prometheus::{AwsSigV4Signer, PrometheusSinkBuilder, TimeSeries};
use stream_core::prelude::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_writes_are_taken() {
    let Some(url) = common::server().await else { return };
    let run = format!("signed_{}_{}", std::process::id(), fastrand::u32(..));
    let keys = Credentials::new("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", None, None, "test");
    let signer = AwsSigV4Signer::new(SharedCredentialsProvider::new(keys), "eu-west-1");
    let base = now_ms() - 60_000;
    let label = run.clone();
    let sink = PrometheusSinkBuilder::new(format!("{url}/api/v1/write"), move |i: u64| {
        TimeSeries::builder(METRIC).label("run", &label).label("series", "0").sample(base + i as i64, i as f64).build()
    })
    .signer(signer)
    .max_batch_size(10)
    .build()
    .unwrap();
    let env = StreamEnvironment::builder().parallelism(1).restart_strategy(RestartStrategy::None).build().unwrap();
    let job = env.from_source(CollectionSource::from_fn(100, |i| i), "samples").sink_to(sink, "prometheus");
    tokio::time::timeout(Duration::from_secs(60), job.execute("signed")).await.expect("no hang").unwrap();
    let mut values: Vec<u64> = common::samples(&url, &run).await.into_iter().map(|(_, _, v)| v as u64).collect();
    values.sort_unstable();
    assert_eq!(values, (0..100).collect::<Vec<_>>());
}

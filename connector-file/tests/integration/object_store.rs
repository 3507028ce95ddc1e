//! FileSource and FileSink on S3 (moto from `cargo xtask services`, or `S3_ENDPOINT`):
//! the testkit source suites (bounded and continuous, plain / gzip / zstd objects)
//! and the sink suite with a crash at every protocol point, read back from S3;
//! multipart uploads of several parts; clear errors for a missing bucket.
#![cfg(feature = "s3")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use connector_base::DeliveryGuarantee;
use connector_file::object_store::aws::{AmazonS3, AmazonS3Builder};
use connector_file::object_store::path::Path as ObjectPath;
use connector_file::object_store::{ClientOptions, ObjectStore, ObjectStoreExt, PutPayload, RetryConfig};
use connector_file::{BucketAssigner, FileSink, FileSource, LineEncoder, Location, RollingPolicy, TextLines};
use connector_testkit::NetworkSuite;
use connector_testkit::proxy::FaultProxy;
use connector_testkit::{
    SinkTarget, SourceTarget, SuiteConfig, TestServer, TestkitError, Verdict, probe, run_resume_source_suite,
    run_sink_suite, run_source_suite, run_unbounded_source_suite, servers,
};
use futures::TryStreamExt;
use stream_core::prelude::*;
use stream_core::retry::RetryPolicy;

fn store(endpoint: &str, bucket: &str) -> Arc<AmazonS3> {
    // moto sometimes stops answering every client for seconds (seen with two test
    // processes writing at once): a request that hangs is retried after 5 s instead of
    // object_store's default 30 s.
    store_with(endpoint, bucket, Duration::from_secs(5), RetryConfig::default())
}

/// A store whose requests time out after `timeout` and are retried by `retry`.
fn store_with(endpoint: &str, bucket: &str, timeout: Duration, retry: RetryConfig) -> Arc<AmazonS3> {
    let client = ClientOptions::new().with_allow_http(true).with_timeout(timeout);
    let store = AmazonS3Builder::new()
        .with_retry(retry)
        .with_endpoint(endpoint)
        .with_bucket_name(bucket)
        .with_region("us-east-1")
        .with_access_key_id("testing")
        .with_secret_access_key("testing")
        .with_client_options(client)
        .build()
        .unwrap();
    Arc::new(store)
}

/// A fresh bucket on the S3 test server, or `None` to skip (when not required).
async fn bucket(test: &str) -> Option<(String, Arc<AmazonS3>)> {
    let (endpoint, name) = bucket_name(test).await?;
    Some((endpoint.clone(), store(&endpoint, &name)))
}

/// A fresh bucket on the S3 test server: (endpoint, name), or `None` to skip.
async fn bucket_name(test: &str) -> Option<(String, String)> {
    let _ = tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::from_default_env()).try_init();
    let server = TestServer::discover(&servers::S3).await.unwrap()?;
    let name = format!("{test}-{}-{}", std::process::id(), fastrand::u32(..)).replace('_', "-");
    probe::s3_create_bucket(&server.endpoint, &name).unwrap();
    Some((server.endpoint.clone(), name))
}

/// Every object under `prefix` as lines of text (only finished, visible objects exist).
async fn lines_under(store: &AmazonS3, prefix: &str) -> Vec<String> {
    let metas: Vec<_> = store.list(Some(&ObjectPath::from(prefix))).try_collect().await.unwrap();
    let mut lines = Vec::new();
    for meta in metas {
        let bytes = store.get(&meta.location).await.unwrap().bytes().await.unwrap();
        lines.extend(String::from_utf8(bytes.to_vec()).unwrap().lines().map(str::to_string));
    }
    lines
}

fn ids(lines: &[String]) -> Vec<u64> {
    lines.iter().map(|l| l.trim_start_matches("record-").parse().unwrap()).collect()
}

struct Objects {
    store: Arc<AmazonS3>,
    written: AtomicUsize,
    /// The same bucket through a fault proxy, for the source.
    via: Option<Arc<AmazonS3>>,
}

impl SourceTarget for Objects {
    type Source = FileSource<String>;

    fn guarantee(&self) -> DeliveryGuarantee {
        DeliveryGuarantee::ExactlyOnce
    }

    async fn prepare(&self, ids: &[u64]) -> Result<(), TestkitError> {
        // Per call: two plain objects, a gzip and a zstd one, one under a "sub-directory",
        // and a hidden one that must never be read.
        let n = self.written.fetch_add(1, Ordering::SeqCst);
        for (name, bytes) in common::mixed_files(n, ids) {
            self.store.put(&ObjectPath::from(format!("in/{name}").as_str()), PutPayload::from(bytes)).await.unwrap();
        }
        let hidden = ObjectPath::from(format!("in/_tmp/part-{n}.txt").as_str());
        self.store.put(&hidden, PutPayload::from_static(b"not-a-record\n")).await.unwrap();
        Ok(())
    }

    fn source(&self, bounded: bool) -> FileSource<String> {
        let store = self.via.clone().unwrap_or_else(|| self.store.clone());
        let location = Location::object_store(store, "in").unwrap();
        let builder = FileSource::builder(location, TextLines).lines_per_batch(10);
        let builder = if bounded { builder } else { builder.monitor_continuously(Duration::from_millis(50)) };
        builder.build().unwrap()
    }

    fn id_of(&self, line: &String) -> u64 {
        line.trim_start_matches("record-").parse().unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_source_is_exactly_once_across_crashes() {
    let Some((_, store)) = bucket("source").await else { return };
    let target = Arc::new(Objects { store, written: AtomicUsize::new(0), via: None });
    let verdict = run_source_suite(target, SuiteConfig { records: 3_000, ..SuiteConfig::default() }).await.unwrap();
    assert!(verdict.crashes >= 1, "{verdict}");
    verdict.check(DeliveryGuarantee::ExactlyOnce).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_continuous_source_picks_up_new_objects_exactly_once() {
    let Some((_, store)) = bucket("continuous").await else { return };
    let target = Arc::new(Objects { store, written: AtomicUsize::new(0), via: None });
    let config = SuiteConfig { records: 3_000, ..SuiteConfig::default() };
    let verdict = run_unbounded_source_suite(target, config).await.unwrap();
    verdict.check(DeliveryGuarantee::ExactlyOnce).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_a_restarted_job_does_not_read_finished_objects_again() {
    let Some((_, store)) = bucket("resume").await else { return };
    let target = Arc::new(Objects { store, written: AtomicUsize::new(0), via: None });
    let config = SuiteConfig { records: 3_000, ..SuiteConfig::default() };
    let verdict = run_resume_source_suite(target, config).await.unwrap();
    verdict.check(DeliveryGuarantee::ExactlyOnce).unwrap();
}

struct Bucket {
    store: Arc<AmazonS3>,
    prefix: &'static str,
    /// The same bucket through a fault proxy, for the sink.
    via: Option<Arc<AmazonS3>>,
    /// The location's store_retry, if not the default.
    retry: Option<RetryPolicy>,
    /// The rolling policy's part size: each roll is a few requests (create, upload,
    /// complete), and a part in progress makes none at a checkpoint.
    part_size: u64,
}

/// 8 KiB: a part per ~700 records.
const PART_SIZE: u64 = 8_192;

impl SinkTarget for Bucket {
    type Record = String;
    type Sink = FileSink<String>;

    fn guarantee(&self) -> DeliveryGuarantee {
        DeliveryGuarantee::ExactlyOnce
    }

    fn record(&self, id: u64) -> String {
        format!("record-{id}")
    }

    fn sink(&self) -> FileSink<String> {
        let store = self.via.clone().unwrap_or_else(|| self.store.clone());
        let mut location = Location::object_store(store, self.prefix).unwrap();
        if let Some(retry) = &self.retry {
            location = location.store_retry(retry.clone()).unwrap();
        }
        let rolling = RollingPolicy { max_part_size: self.part_size, ..RollingPolicy::default() };
        FileSink::builder(location, LineEncoder).rolling_policy(rolling).build().unwrap()
    }

    async fn read_back(&self) -> Result<Vec<u64>, TestkitError> {
        Ok(ids(&lines_under(&self.store, self.prefix).await))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_sink_is_exactly_once_with_a_crash_at_every_protocol_point() {
    let Some((_, store)) = bucket("sink").await else { return };
    let target = Arc::new(Bucket { store, prefix: "out", via: None, retry: None, part_size: PART_SIZE });
    let config = SuiteConfig::sink_crash_at_every_point();
    let verdict = run_sink_suite(target, config).await.unwrap();
    assert_eq!(verdict.crashes, 4, "{verdict}");
    verdict.check(DeliveryGuarantee::ExactlyOnce).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_sink_is_exactly_once_across_random_crashes() {
    let Some((_, store)) = bucket("sink-random").await else { return };
    let target = Arc::new(Bucket { store, prefix: "deep/out", via: None, retry: None, part_size: PART_SIZE });
    let verdict = run_sink_suite(target, SuiteConfig { crashes: 3, ..SuiteConfig::default() }).await.unwrap();
    assert!(verdict.crashes >= 1, "{verdict}");
    verdict.check(DeliveryGuarantee::ExactlyOnce).unwrap();
}

/// A part larger than the multipart part size is uploaded in several parts and
/// becomes one object only at the commit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_parts_are_uploaded_in_several_parts_and_appear_whole() {
    let Some((_, store)) = bucket("multipart").await else { return };
    let location = Location::object_store(store.clone(), "big").unwrap();
    let sink = FileSink::builder(location, LineEncoder)
        .buckets(BucketAssigner::Single)
        .multipart_part_size(5 * 1024 * 1024)
        .build()
        .unwrap();
    let lines = 400_000u64; // ~ 12 MiB of "line-<n> padding..." lines: 3 parts
    StreamEnvironment::builder()
        .parallelism(1)
        .build()
        .unwrap()
        .from_source(CollectionSource::sequence(0..lines), "numbers")
        .map(|x| format!("line-{x:08}-{}", "x".repeat(14)))
        .sink_to(sink, "s3")
        .execute("multipart")
        .await
        .unwrap();
    let metas: Vec<_> = store.list(Some(&ObjectPath::from("big"))).try_collect().await.unwrap();
    assert_eq!(metas.len(), 1, "{metas:?}");
    let etag = metas[0].e_tag.clone().unwrap_or_default();
    let parts: u32 = etag.trim_matches('"').rsplit_once('-').and_then(|(_, n)| n.parse().ok()).unwrap_or(1);
    assert!(
        parts >= 2,
        "a {} byte object must come from a multipart upload of several parts (etag {etag})",
        metas[0].size
    );
    let read = lines_under(&store, "big").await;
    assert_eq!(read.len() as u64, lines);
    assert!(read.iter().enumerate().all(|(i, l)| l.starts_with(&format!("line-{i:08}-"))), "lines in order");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_bucket_is_a_clear_error() {
    let Some((endpoint, _)) = bucket("exists").await else { return };
    let missing = store(&endpoint, "no-such-bucket-here");
    let source = FileSource::builder(Location::object_store(missing, "in").unwrap(), TextLines).build().unwrap();
    let Err(err) = StreamEnvironment::builder()
        .parallelism(1)
        .build()
        .unwrap()
        .from_source(source, "missing")
        .sink_to(CollectSink::new(), "out")
        .execute("missing-bucket")
        .await
    else {
        panic!("reading a missing bucket must fail")
    };
    let err = err.to_string();
    assert!(err.contains("object store list of") && err.contains("no-such-bucket-here"), "{err}");
    assert!(err.contains("check the bucket"), "{err}");
}

/// The testkit's network-fault suite on the S3 sink and source through a fault proxy
/// in front of the test server (object_store retries a failed request within its
/// retry config; each request here times out after 5 s): cuts with short and long
/// refusal, latency and short stalls lose nothing, duplicate nothing and need no
/// restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_sink_rides_through_network_faults() {
    let Some(server) = TestServer::discover(&servers::S3).await.unwrap() else { return };
    let proxy = FaultProxy::for_endpoint(&server.endpoint).await.unwrap();
    let via = proxy.endpoint_for(&server.endpoint);
    let suite = NetworkSuite::new(&proxy, Duration::from_secs(5));
    suite
        .run_sink(|| async {
            let (endpoint, name) = bucket_name("net-sink").await.unwrap();
            Arc::new(Bucket {
                store: store(&endpoint, &name),
                prefix: "out",
                via: Some(store(&via, &name)),
                retry: None,
                // A roll about every checkpoint (~50 records per subtask), so that
                // requests are under way when the faults come: with 8 KiB parts the
                // four runs opened 96 connections in all, and once in CI every cut
                // and refusal fell between them.
                part_size: 600,
            })
        })
        .await
        .unwrap();
    let stats = proxy.stats();
    eprintln!("fault proxy: {stats:?}");
    assert!(stats.cut + stats.refused > 0, "the faults reached the connections: {stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_source_rides_through_network_faults() {
    let Some(server) = TestServer::discover(&servers::S3).await.unwrap() else { return };
    let proxy = FaultProxy::for_endpoint(&server.endpoint).await.unwrap();
    let via = proxy.endpoint_for(&server.endpoint);
    let suite = NetworkSuite::new(&proxy, Duration::from_secs(5));
    suite
        .run_source(|| async {
            let (endpoint, name) = bucket_name("net-source").await.unwrap();
            let target =
                Objects { store: store(&endpoint, &name), written: AtomicUsize::new(0), via: Some(store(&via, &name)) };
            Arc::new(target)
        })
        .await
        .unwrap();
}

/// A read cut in the middle of a large object, with new connections refused for 3 s
/// (longer than object_store's own retries of a broken body last, about a second),
/// goes on where it broke: every line is read once, with no restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_a_read_cut_mid_object_goes_on_where_it_broke() {
    const LINES: u64 = 200_000;
    let Some((endpoint, name)) = bucket_name("mid-object").await else { return };
    let text: String = (0..LINES).map(|i| format!("record-{i}\n")).collect();
    let size = text.len();
    store(&endpoint, &name).put(&ObjectPath::from("in/big.txt"), PutPayload::from(text.into_bytes())).await.unwrap();
    let proxy = FaultProxy::for_endpoint(&endpoint).await.unwrap();
    // About 5 s for the object; the cut comes 1.5 s in.
    proxy.set_bandwidth(Some(size as u64 / 5));
    let via = store(&proxy.endpoint_for(&endpoint), &name);
    let source = FileSource::builder(Location::object_store(via, "in").unwrap(), TextLines).build().unwrap();
    let sink = CollectSink::new();
    let env = StreamEnvironment::builder().parallelism(1).restart_strategy(RestartStrategy::None).build().unwrap();
    let job = env.from_source(source, "big").sink_to(sink.clone(), "out");
    let cut = {
        let proxy = proxy.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(1500)).await;
            proxy.cut_all();
            proxy.refuse_for(Duration::from_secs(3));
        })
    };
    let result = job.execute("mid-object-cut").await;
    cut.await.unwrap();
    let stats = proxy.stats();
    let result = result.unwrap_or_else(|e| panic!("the read did not survive the cut ({stats:?}): {e}"));
    assert_eq!(result.restarts, 0);
    assert!(stats.cut >= 1 && stats.refused >= 1, "the read met the cut and the refusal: {stats:?}");
    let ids: Vec<u64> = sink.committed().iter().map(|l| l.trim_start_matches("record-").parse().unwrap()).collect();
    let verdict = Verdict::compare(&(0..LINES).collect::<Vec<_>>(), &ids, 0);
    eprintln!("a read cut mid-object: {verdict}; proxy {stats:?}");
    verdict.check(DeliveryGuarantee::ExactlyOnce).unwrap();
}

/// A stall fails each request after the store's client timeout (2 s here, no retry
/// by object_store); the sink fails once the location's store_retry gives up (3 s
/// here), naming it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_a_stall_past_retry_timeout_fails_the_sink_naming_it() {
    let Some(server) = TestServer::discover(&servers::S3).await.unwrap() else { return };
    let proxy = FaultProxy::for_endpoint(&server.endpoint).await.unwrap();
    let via = proxy.endpoint_for(&server.endpoint);
    let (endpoint, name) = bucket_name("net-stall").await.unwrap();
    let no_retry = RetryConfig { max_retries: 0, ..RetryConfig::default() };
    let stalled = store_with(&via, &name, Duration::from_secs(2), no_retry);
    let retry = RetryPolicy::exponential(Duration::from_millis(100), Duration::from_secs(1))
        .give_up_after(Duration::from_secs(3));
    let target = Bucket {
        store: store(&endpoint, &name),
        prefix: "out",
        via: Some(stalled),
        retry: Some(retry),
        part_size: PART_SIZE,
    };
    let suite = NetworkSuite::new(&proxy, Duration::from_secs(5));
    // The first request times out after 2 s, the retries give up 3 s later, when the
    // request then in flight times out (2 s more at most).
    let timeout = Duration::from_secs(2 + 3 + 2);
    suite.sink_stall_past_timeout(Arc::new(target), timeout, "store_retry", Duration::from_secs(4)).await.unwrap();
}

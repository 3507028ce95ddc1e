//! Helpers shared by the connector-kinesis tests: streams on kinesis-local, putting
//! records in and reading every shard back.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use connector_base::DeliveryGuarantee;
use connector_base::schema::Utf8Schema;
use connector_kinesis::aws_config::{BehaviorVersion, SdkConfig};
use connector_kinesis::aws_sdk_kinesis::Client;
use connector_kinesis::aws_sdk_kinesis::config::{Credentials, Region};
use connector_kinesis::aws_sdk_kinesis::primitives::Blob;
use connector_kinesis::aws_sdk_kinesis::types::{PutRecordsRequestEntry, ShardIteratorType, StreamStatus};
use connector_kinesis::{
    KinesisRecord, KinesisStreamsSink, KinesisStreamsSinkBuilder, KinesisStreamsSource, KinesisStreamsSourceBuilder,
    StartingPosition,
};
use connector_testkit::proxy::FaultProxy;
use connector_testkit::{SinkTarget, SourceTarget, TestServer, TestkitError, servers};

/// An SDK config for `endpoint` with test credentials.
pub async fn sdk(endpoint: &str) -> SdkConfig {
    connector_kinesis::aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("test", "test", None, None, "tests"))
        .load()
        .await
}

/// The test server's SDK config, or `None` to skip.
pub async fn server() -> Option<SdkConfig> {
    let _ = tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::from_default_env()).try_init();
    let server = TestServer::discover(&servers::KINESIS).await.unwrap()?;
    Some(sdk(&server.endpoint).await)
}

/// The test server's endpoint, or `None` to skip.
pub async fn endpoint() -> Option<String> {
    let _ = tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::from_default_env()).try_init();
    Some(TestServer::discover(&servers::KINESIS).await.unwrap()?.endpoint.clone())
}

/// Wait until `stream` is ACTIVE (after creation or resharding).
pub async fn wait_active(sdk: &SdkConfig, stream: &str) {
    let client = Client::new(sdk);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let summary = client.describe_stream_summary().stream_name(stream).send().await.unwrap();
        let status = summary.stream_description_summary().map(|d| d.stream_status().clone());
        if status == Some(StreamStatus::Active) {
            return;
        }
        assert!(Instant::now() < deadline, "stream {stream} not active: {status:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The hash key range of `shard`.
async fn hash_range(sdk: &SdkConfig, stream: &str, shard: &str) -> (u128, u128) {
    let listed = Client::new(sdk).list_shards().stream_name(stream).send().await.unwrap();
    let shard = listed.shards().iter().find(|s| s.shard_id() == shard).unwrap();
    let range = shard.hash_key_range().unwrap();
    (range.starting_hash_key().parse().unwrap(), range.ending_hash_key().parse().unwrap())
}

/// The ids of the stream's shards.
pub async fn shard_ids(sdk: &SdkConfig, stream: &str) -> BTreeSet<String> {
    let listed = Client::new(sdk).list_shards().stream_name(stream).send().await.unwrap();
    listed.shards().iter().map(|s| s.shard_id().to_string()).collect()
}

/// Run `reshard` and wait until the stream is active again; the shards it added.
async fn reshard(sdk: &SdkConfig, stream: &str, reshard: impl std::future::Future<Output = ()>) -> Vec<String> {
    let before = shard_ids(sdk, stream).await;
    reshard.await;
    wait_active(sdk, stream).await;
    shard_ids(sdk, stream).await.into_iter().filter(|id| !before.contains(id)).collect()
}

/// Split `shard` in two halves; returns the ids of the two children (lower, upper).
pub async fn split(sdk: &SdkConfig, stream: &str, shard: &str) -> (String, String) {
    let (start, end) = hash_range(sdk, stream, shard).await;
    let middle = start + (end - start) / 2;
    let call = Client::new(sdk).split_shard().stream_name(stream).shard_to_split(shard);
    let children =
        reshard(sdk, stream, async { call.new_starting_hash_key(middle.to_string()).send().await.map(drop).unwrap() })
            .await;
    assert_eq!(children.len(), 2, "{children:?}");
    (children[0].clone(), children[1].clone())
}

/// Merge `shard` with its neighbour `adjacent`; returns the id of the merged shard.
pub async fn merge(sdk: &SdkConfig, stream: &str, shard: &str, adjacent: &str) -> String {
    let call =
        Client::new(sdk).merge_shards().stream_name(stream).shard_to_merge(shard).adjacent_shard_to_merge(adjacent);
    let merged = reshard(sdk, stream, async { call.send().await.map(drop).unwrap() }).await;
    assert_eq!(merged.len(), 1, "{merged:?}");
    merged[0].clone()
}

/// A fresh stream named after `name` with `shards` shards.
pub async fn stream(sdk: &SdkConfig, name: &str, shards: i32) -> String {
    let stream = format!("{name}-{}-{}", std::process::id(), fastrand::u32(..));
    Client::new(sdk).create_stream().stream_name(&stream).shard_count(shards).send().await.unwrap();
    wait_active(sdk, &stream).await;
    stream
}

/// Put `(partition key, data)` pairs, retrying entries the server refused.
pub async fn put(sdk: &SdkConfig, stream: &str, records: &[(String, String)]) {
    let client = Client::new(sdk);
    for chunk in records.chunks(500) {
        let mut left: Vec<&(String, String)> = chunk.iter().collect();
        while !left.is_empty() {
            let entries = left
                .iter()
                .map(|(k, v)| PutRecordsRequestEntry::builder().partition_key(k).data(Blob::new(v.as_bytes())).build())
                .collect::<Result<Vec<_>, _>>()
                .unwrap();
            let out = client.put_records().stream_name(stream).set_records(Some(entries)).send().await.unwrap();
            left =
                left.into_iter().zip(out.records()).filter(|(_, r)| r.error_code().is_some()).map(|(e, _)| e).collect();
            if !left.is_empty() {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Every record of every shard, per shard in sequence order: (shard, key, data).
pub async fn read_all(sdk: &SdkConfig, stream: &str) -> Vec<(String, String, String)> {
    let client = Client::new(sdk);
    let shards = client.list_shards().stream_name(stream).send().await.unwrap();
    let mut out = Vec::new();
    for shard in shards.shards() {
        let it = client
            .get_shard_iterator()
            .stream_name(stream)
            .shard_id(shard.shard_id())
            .shard_iterator_type(ShardIteratorType::TrimHorizon)
            .send()
            .await
            .unwrap();
        let mut iterator = it.shard_iterator().map(str::to_string);
        while let Some(it) = iterator {
            let page = client.get_records().shard_iterator(&it).limit(10_000).send().await.unwrap();
            for r in page.records() {
                let data = String::from_utf8_lossy(r.data().as_ref()).to_string();
                out.push((shard.shard_id().to_string(), r.partition_key().unwrap_or_default().to_string(), data));
            }
            // An open shard never ends: stop at the first empty page.
            iterator = if page.records().is_empty() { None } else { page.next_shard_iterator().map(str::to_string) };
        }
    }
    out
}

/// The sink suite's target: record `id` is written as `record-<id>` with key `k<id % 64>`.
pub struct InStream {
    pub sdk: SdkConfig,
    pub stream: String,
    /// The sink's SDK config, if not `sdk` (one through a fault proxy).
    pub via: Option<SdkConfig>,
    /// Options of the sink beyond the suite's.
    pub configure: fn(KinesisStreamsSinkBuilder<String>) -> KinesisStreamsSinkBuilder<String>,
}

impl InStream {
    pub async fn new(shards: i32) -> Option<std::sync::Arc<InStream>> {
        let sdk = server().await?;
        let stream = stream(&sdk, "sink-suite", shards).await;
        Some(std::sync::Arc::new(InStream { sdk, stream, via: None, configure: |b| b }))
    }
}

impl SinkTarget for InStream {
    type Record = String;
    type Sink = KinesisStreamsSink<String>;

    fn guarantee(&self) -> DeliveryGuarantee {
        DeliveryGuarantee::AtLeastOnce
    }

    fn record(&self, id: u64) -> String {
        format!("record-{id}")
    }

    fn sink(&self) -> KinesisStreamsSink<String> {
        let builder = KinesisStreamsSinkBuilder::new(
            self.via.as_ref().unwrap_or(&self.sdk),
            &self.stream,
            Utf8Schema,
            |r: &String| key_of(r),
        )
        .max_time_in_buffer(Duration::from_millis(50));
        (self.configure)(builder).build().unwrap()
    }

    async fn read_back(&self) -> Result<Vec<u64>, TestkitError> {
        let records = read_all(&self.sdk, &self.stream).await;
        Ok(records.into_iter().filter_map(|(_, _, data)| data.strip_prefix("record-")?.parse().ok()).collect())
    }
}

/// The partition key of `record-<id>`.
pub fn key_of(record: &str) -> String {
    let id: u64 = record.strip_prefix("record-").and_then(|s| s.parse().ok()).unwrap_or(0);
    format!("k{}", id % 64)
}

/// The source suite's target: ids put as `record-<id>` with key `k<id % 64>`, read
/// by polling or with enhanced fan-out (consumer `fan_out`).
pub struct FromStream {
    pub sdk: SdkConfig,
    pub stream: String,
    pub fan_out: Option<String>,
    /// The source's SDK config, if not `sdk` (one through a fault proxy).
    pub via: Option<SdkConfig>,
    /// Options of the source beyond the suite's.
    pub configure: fn(KinesisStreamsSourceBuilder) -> KinesisStreamsSourceBuilder,
}

impl FromStream {
    pub async fn new(shards: i32) -> Option<std::sync::Arc<FromStream>> {
        let sdk = server().await?;
        let stream = stream(&sdk, "source-suite", shards).await;
        Some(std::sync::Arc::new(FromStream { sdk, stream, fan_out: None, via: None, configure: |b| b }))
    }

    pub async fn fan_out(shards: i32) -> Option<std::sync::Arc<FromStream>> {
        let sdk = server().await?;
        let stream = stream(&sdk, "fan-out-suite", shards).await;
        Some(std::sync::Arc::new(FromStream {
            sdk,
            stream,
            fan_out: Some("suite-consumer".into()),
            via: None,
            configure: |b| b,
        }))
    }
}

/// The records for test ids.
pub fn keyed(ids: &[u64]) -> Vec<(String, String)> {
    ids.iter().map(|id| (format!("k{}", id % 64), format!("record-{id}"))).collect()
}

/// The test id of a record read.
pub fn id_of(record: &KinesisRecord) -> u64 {
    std::str::from_utf8(&record.data).ok().and_then(|s| s.strip_prefix("record-")?.parse().ok()).unwrap_or(u64::MAX)
}

impl SourceTarget for FromStream {
    type Source = KinesisStreamsSource;

    fn guarantee(&self) -> DeliveryGuarantee {
        DeliveryGuarantee::ExactlyOnce
    }

    async fn prepare(&self, ids: &[u64]) -> Result<(), TestkitError> {
        put(&self.sdk, &self.stream, &keyed(ids)).await;
        Ok(())
    }

    /// Kinesis streams do not end: only the unbounded suite runs.
    fn source(&self, _bounded: bool) -> KinesisStreamsSource {
        let builder = KinesisStreamsSource::builder(self.via.as_ref().unwrap_or(&self.sdk), &self.stream)
            .starting_position(StartingPosition::TrimHorizon)
            .shard_discovery_interval(Duration::from_millis(200))
            .idle_poll_interval(Duration::from_millis(20));
        let builder = (self.configure)(builder);
        match &self.fan_out {
            Some(consumer) => builder.enhanced_fan_out(consumer).build().unwrap(),
            None => builder.build().unwrap(),
        }
    }

    fn id_of(&self, record: &KinesisRecord) -> u64 {
        id_of(record)
    }
}

/// Records per key in the order they were read: for per-key order checks.
pub fn per_key(records: &[(String, u64)]) -> BTreeMap<String, Vec<u64>> {
    let mut map: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for (key, id) in records {
        map.entry(key.clone()).or_default().push(*id);
    }
    map
}

/// The server's SDK config, one through a proxy in front of it, and the proxy.
pub async fn proxied() -> Option<(SdkConfig, SdkConfig, FaultProxy)> {
    let endpoint = endpoint().await?;
    let proxy = FaultProxy::for_endpoint(&endpoint).await.unwrap();
    Some((sdk(&endpoint).await, sdk(&proxy.endpoint_for(&endpoint)).await, proxy))
}

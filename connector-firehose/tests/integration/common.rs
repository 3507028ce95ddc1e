//! Helpers shared by the connector-firehose tests: moto's Firehose with an S3
//! destination, and reading what it delivered back from moto's S3.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use connector_base::DeliveryGuarantee;
use connector_base::schema::Utf8Schema;
use connector_firehose::aws_config::timeout::TimeoutConfig;
use connector_firehose::aws_config::{BehaviorVersion, SdkConfig};
use connector_firehose::aws_sdk_firehose::Client;
use connector_firehose::aws_sdk_firehose::config::{Credentials, Region};
use connector_firehose::aws_sdk_firehose::types::{
    CompressionFormat, DeliveryStreamType, ExtendedS3DestinationConfiguration,
};
use connector_firehose::{FirehoseSink, FirehoseSinkBuilder};
use connector_testkit::{SinkTarget, TestServer, TestkitError, probe, servers};
use futures::TryStreamExt;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::{ClientOptions, ObjectStore, ObjectStoreExt};

/// An SDK config for `endpoint` with test credentials. moto (a werkzeug development
/// server) sometimes stops answering every client for seconds (see the workspace
/// README): an attempt that hangs is given up after 5 s and retried by the SDK.
pub async fn sdk(endpoint: &str) -> SdkConfig {
    let timeouts = TimeoutConfig::builder().operation_attempt_timeout(Duration::from_secs(5)).build();
    connector_firehose::aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(timeouts)
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("testing", "testing", None, None, "tests"))
        .load()
        .await
}

/// A delivery stream (`FIREHOSE_ENDPOINT`) writing to a fresh bucket read back through
/// `S3_ENDPOINT` (both moto's by default): (sdk, stream, bucket store), or `None` to
/// skip.
pub async fn stream(name: &str) -> Option<(SdkConfig, String, Arc<AmazonS3>)> {
    let _ = tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::from_default_env()).try_init();
    let firehose = TestServer::discover(&servers::FIREHOSE).await.unwrap()?;
    let server = TestServer::discover(&servers::S3).await.unwrap()?;
    let name = format!("{name}-{}-{}", std::process::id(), fastrand::u32(..));
    probe::s3_create_bucket(&server.endpoint, &name).unwrap();
    let sdk = sdk(&firehose.endpoint).await;
    let destination = ExtendedS3DestinationConfiguration::builder()
        .bucket_arn(format!("arn:aws:s3:::{name}"))
        .role_arn("arn:aws:iam::123456789012:role/firehose-test")
        // moto describes the stream back only with what was given: the SDK needs it.
        .compression_format(CompressionFormat::Uncompressed)
        .build()
        .unwrap();
    Client::new(&sdk)
        .create_delivery_stream()
        .delivery_stream_name(&name)
        .delivery_stream_type(DeliveryStreamType::DirectPut)
        .extended_s3_destination_configuration(destination)
        .send()
        .await
        .unwrap();
    let store = AmazonS3Builder::new()
        .with_endpoint(&server.endpoint)
        .with_bucket_name(&name)
        .with_region("us-east-1")
        .with_access_key_id("testing")
        .with_secret_access_key("testing")
        .with_client_options(ClientOptions::new().with_allow_http(true).with_timeout(Duration::from_secs(5)))
        .build()
        .unwrap();
    Some((sdk, name, Arc::new(store)))
}

/// The Firehose test server's endpoint, or `None` to skip.
pub async fn endpoint() -> Option<String> {
    Some(TestServer::discover(&servers::FIREHOSE).await.unwrap()?.endpoint.clone())
}

/// Every line delivered to the bucket.
pub async fn delivered(store: &AmazonS3) -> Vec<String> {
    let objects: Vec<_> = store.list(None).try_collect().await.unwrap();
    let mut lines = Vec::new();
    for object in objects {
        let bytes = store.get(&object.location).await.unwrap().bytes().await.unwrap();
        lines.extend(String::from_utf8_lossy(&bytes).lines().map(str::to_string));
    }
    lines
}

/// The sink suite's target: one line per record.
pub struct ToBucket {
    pub sdk: SdkConfig,
    pub stream: String,
    pub store: Arc<AmazonS3>,
    /// The sink's SDK config, if not `sdk` (one through a fault proxy).
    pub via: Option<SdkConfig>,
    /// Options of the sink beyond the tests' own.
    pub configure: fn(FirehoseSinkBuilder<String>) -> FirehoseSinkBuilder<String>,
}

impl SinkTarget for ToBucket {
    type Record = String;
    type Sink = FirehoseSink<String>;

    fn guarantee(&self) -> DeliveryGuarantee {
        DeliveryGuarantee::AtLeastOnce
    }

    fn record(&self, id: u64) -> String {
        format!("record-{id}\n")
    }

    fn sink(&self) -> FirehoseSink<String> {
        let builder = FirehoseSinkBuilder::new(self.via.as_ref().unwrap_or(&self.sdk), &self.stream, Utf8Schema)
            .max_time_in_buffer(Duration::from_millis(50));
        (self.configure)(builder).build().unwrap()
    }

    async fn read_back(&self) -> Result<Vec<u64>, TestkitError> {
        let lines = delivered(&self.store).await;
        Ok(lines.iter().map(|l| l.trim_start_matches("record-").parse().unwrap()).collect())
    }
}

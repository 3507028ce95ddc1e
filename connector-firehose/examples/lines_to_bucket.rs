//! Writes 1 000 lines through a Firehose delivery stream into an S3 bucket on moto,
//! then reads the bucket back and checks every line arrived.
//!
//! `cargo xtask services up moto` first (or set `S3_ENDPOINT`), then
//! `cargo run -p connector-firehose --example lines_to_bucket`.

use std::collections::BTreeSet;
use std::time::Duration;

use connector_base::schema::Utf8Schema;
use connector_firehose::FirehoseSinkBuilder;
use connector_firehose::aws_config::BehaviorVersion;
use connector_firehose::aws_sdk_firehose::Client;
use connector_firehose::aws_sdk_firehose::config::{Credentials, Region};
use connector_firehose::aws_sdk_firehose::types::{
    CompressionFormat, DeliveryStreamType, ExtendedS3DestinationConfiguration,
};
use futures::TryStreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::{ClientOptions, ObjectStore, ObjectStoreExt};
use stream_core::prelude::*;

const LINES: usize = 1_000;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let endpoint = std::env::var("S3_ENDPOINT").unwrap_or_else(|_| "http://127.0.0.1:4566".into());
    let name = format!("lines-{}", std::process::id());
    connector_testkit::probe::s3_create_bucket(&endpoint, &name)
        .map_err(|e| format!("cannot create bucket {name} at {endpoint} (is moto running?): {e}"))?;
    let sdk = connector_firehose::aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(&endpoint)
        .credentials_provider(Credentials::new("example", "example", None, None, "example"))
        .load()
        .await;
    let destination = ExtendedS3DestinationConfiguration::builder()
        .bucket_arn(format!("arn:aws:s3:::{name}"))
        .role_arn("arn:aws:iam::123456789012:role/example")
        .compression_format(CompressionFormat::Uncompressed)
        .build()?;
    Client::new(&sdk)
        .create_delivery_stream()
        .delivery_stream_name(&name)
        .delivery_stream_type(DeliveryStreamType::DirectPut)
        .extended_s3_destination_configuration(destination)
        .send()
        .await?;

    let lines: Vec<String> = (0..LINES).map(|i| format!("line-{i}\n")).collect();
    StreamEnvironment::builder()
        .checkpointing(CheckpointConfig::builder().interval(Duration::from_millis(200)).build()?)
        .build()?
        .from_source(CollectionSource::new(lines), "lines")
        .sink_to(FirehoseSinkBuilder::new(&sdk, &name, Utf8Schema).build()?, "firehose")
        .execute("lines-to-bucket")
        .await?;

    let store = AmazonS3Builder::new()
        .with_endpoint(&endpoint)
        .with_bucket_name(&name)
        .with_region("us-east-1")
        .with_access_key_id("example")
        .with_secret_access_key("example")
        .with_client_options(ClientOptions::new().with_allow_http(true))
        .build()?;
    let mut seen = BTreeSet::new();
    let objects: Vec<_> = store.list(None).try_collect().await?;
    for object in &objects {
        let bytes = store.get(&object.location).await?.bytes().await?;
        seen.extend(String::from_utf8_lossy(&bytes).lines().map(str::to_string));
    }
    let missing = (0..LINES).filter(|i| !seen.contains(&format!("line-{i}"))).count();
    println!("bucket={name} objects={} lines={} missing={missing}", objects.len(), seen.len());
    if missing > 0 {
        return Err(format!("{missing} lines missing").into());
    }
    Ok(())
}

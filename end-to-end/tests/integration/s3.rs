//! The S3 test server (moto) as the end-to-end tests use it.

use std::sync::Arc;
use std::time::Duration;

use object_store::ClientOptions;
use object_store::aws::{AmazonS3, AmazonS3Builder};

/// A store on `bucket` of the S3 server at `endpoint` (moto's test credentials);
/// each request waits at most `timeout`.
pub fn store(endpoint: &str, bucket: &str, timeout: Duration) -> Arc<AmazonS3> {
    let store = AmazonS3Builder::new()
        .with_endpoint(endpoint)
        .with_bucket_name(bucket)
        .with_region("us-east-1")
        .with_access_key_id("testing")
        .with_secret_access_key("testing")
        .with_client_options(ClientOptions::new().with_allow_http(true).with_timeout(timeout))
        .build()
        .unwrap();
    Arc::new(store)
}

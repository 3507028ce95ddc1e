//! The check both the source and the sink make at start: the stream exists and the
//! SDK config reaches it.

use std::time::Duration;

use aws_config::SdkConfig;
use connector_base::aws;
use stream_core::Result;

use crate::error::KinesisError;

/// How long the check may take.
const CHECK_TIMEOUT: Duration = Duration::from_secs(30);

/// A missing stream, a wrong endpoint or region or bad credentials fail here, naming
/// the stream and the endpoint.
pub(crate) async fn check_stream(client: &aws_sdk_kinesis::Client, sdk: &SdkConfig, stream: &str) -> Result<()> {
    let describe = client.describe_stream_summary().stream_name(stream).send();
    aws::call_within(CHECK_TIMEOUT, describe).await.map(drop).map_err(|message| {
        KinesisError::Stream { stream: stream.to_string(), endpoint: aws::endpoint_of(sdk), message }.into()
    })
}

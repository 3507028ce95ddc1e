//! What the source and the sink both know of their stream: what it is called in
//! errors, and the check at start that it is there.

use aws_config::SdkConfig;
use connector_base::aws;

/// What a Kinesis stream is called in errors.
pub(crate) const KINESIS_STREAM: &str = "Kinesis stream";

/// The check the source and the sink make at start: the stream exists and `sdk`
/// reaches it; the error names the stream and the endpoint. Returns when the stream
/// was created (ms since the epoch, 0 if Kinesis does not say): a stream deleted and
/// created again under its name reuses its shard ids.
pub(crate) async fn check_exists(sdk: &SdkConfig, stream: &str) -> stream_core::Result<i64> {
    let client = aws_sdk_kinesis::Client::new(sdk);
    let describe = client.describe_stream_summary().stream_name(stream).send();
    let summary = aws::check_exists(KINESIS_STREAM, stream, sdk, describe).await?;
    let created = summary.stream_description_summary().map(|s| s.stream_creation_timestamp());
    Ok(created.and_then(|t| t.to_millis().ok()).unwrap_or(0))
}

//! The enhanced fan-out consumer: registered once (`RegisterStreamConsumer`; a reader
//! that finds it registered uses it) and waited for until ACTIVE. It stays registered
//! when the job ends, so that a restart finds it; deregister a retired job's consumer
//! yourself (`aws kinesis deregister-stream-consumer`).

use std::time::{Duration, Instant};

use aws_config::SdkConfig;
use aws_sdk_kinesis::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_kinesis::types::ConsumerStatus;
use connector_base::aws;
use stream_core::Result;

use crate::stream::KINESIS_STREAM;

/// How long registration may take.
const REGISTER_TIMEOUT: Duration = Duration::from_secs(60);

fn has_code<E: ProvideErrorMetadata, R>(error: &SdkError<E, R>, code: &str) -> bool {
    aws::service_error(error).is_some_and(|(c, _)| c == code)
}

/// The ARN of consumer `name` of `stream`, registered if needed and ACTIVE.
pub(crate) async fn consumer_arn(sdk: &SdkConfig, stream: &str, name: &str) -> Result<String> {
    let client = aws_sdk_kinesis::Client::new(sdk);
    let error = |message: String| {
        aws::unusable(KINESIS_STREAM, stream, sdk, format!("enhanced fan-out consumer `{name}`: {message}"))
    };
    let summary = aws::call_within(REGISTER_TIMEOUT, client.describe_stream_summary().stream_name(stream).send())
        .await
        .map_err(error)?;
    let stream_arn = summary.stream_description_summary().map(|d| d.stream_arn().to_string()).unwrap_or_default();
    let deadline = Instant::now() + REGISTER_TIMEOUT;
    let mut registered = false;
    loop {
        let described = client.describe_stream_consumer().stream_arn(&stream_arn).consumer_name(name).send().await;
        match described {
            Ok(out) => {
                if let Some(consumer) = out.consumer_description()
                    && consumer.consumer_status() == &ConsumerStatus::Active
                {
                    return Ok(consumer.consumer_arn().to_string());
                }
            }
            Err(e) if has_code(&e, "ResourceNotFoundException") => {
                if !registered {
                    let register =
                        client.register_stream_consumer().stream_arn(&stream_arn).consumer_name(name).send().await;
                    match register {
                        Ok(_) => tracing::info!(stream, consumer = name, "registered the enhanced fan-out consumer"),
                        // Another reader registered it first.
                        Err(e) if has_code(&e, "ResourceInUseException") => {}
                        Err(e) => return Err(error(format!("RegisterStreamConsumer: {e} ({e:?})"))),
                    }
                    registered = true;
                }
            }
            Err(e) => return Err(error(format!("DescribeStreamConsumer: {e} ({e:?})"))),
        }
        if Instant::now() > deadline {
            return Err(error(format!("not ACTIVE after {} s", REGISTER_TIMEOUT.as_secs())));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

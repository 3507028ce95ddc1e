//! AWS SigV4 signing for Amazon Managed Service for Prometheus (feature `aws-sigv4`),
//! on the AWS SDK's own signing crate: the request's method, URL, headers and body
//! are signed (the body's hash included) for service `aps` with the credentials of an `SdkConfig` (fetched from
//! its provider, which caches and refreshes them, for each request).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::SystemTime;

use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sigv4::http_request::{PayloadChecksumKind, SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use aws_types::SdkConfig;
use stream_core::{Result, StreamError};

use crate::config::RequestSigner;

/// The service name Amazon Managed Service for Prometheus signs for.
const AMP_SERVICE: &str = "aps";

/// Signs remote writes with AWS SigV4 for Amazon Managed Service for Prometheus.
///
/// ```no_run
/// # async fn example() -> stream_core::Result<()> {
/// use connector_prometheus::{AwsSigV4Signer, PrometheusSinkBuilder, TimeSeries};
///
/// let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
/// let url = "https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/ws-1/api/v1/remote_write";
/// let sink = PrometheusSinkBuilder::new(url, |(at, v): (i64, f64)| {
///     TimeSeries::builder("room_temperature").sample(at, v).build()
/// })
/// .signer(AwsSigV4Signer::from_sdk_config(&sdk)?)
/// .build()?;
/// # drop(sink); Ok(()) }
/// ```
#[derive(Clone)]
pub struct AwsSigV4Signer {
    credentials: SharedCredentialsProvider,
    region: String,
    service: String,
}

impl fmt::Debug for AwsSigV4Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The provider is not shown: it may hold keys.
        f.debug_struct("AwsSigV4Signer")
            .field("region", &self.region)
            .field("service", &self.service)
            .finish_non_exhaustive()
    }
}

impl AwsSigV4Signer {
    /// Sign with `credentials` for `region` (the workspace's region).
    pub fn new(credentials: SharedCredentialsProvider, region: impl Into<String>) -> Self {
        AwsSigV4Signer { credentials, region: region.into(), service: AMP_SERVICE.to_string() }
    }

    /// Sign for another service name than `aps` (an endpoint behind API Gateway signs
    /// for `execute-api`).
    pub fn service(mut self, service: impl Into<String>) -> Self {
        self.service = service.into();
        self
    }

    /// Sign with the credentials provider and region of `sdk`; an error names what
    /// `sdk` lacks.
    pub fn from_sdk_config(sdk: &SdkConfig) -> Result<Self> {
        let credentials = sdk
            .credentials_provider()
            .ok_or_else(|| StreamError::invalid("signer", "SdkConfig", "an SdkConfig with a credentials provider"))?;
        let region =
            sdk.region().ok_or_else(|| StreamError::invalid("signer", "SdkConfig", "an SdkConfig with a region"))?;
        Ok(AwsSigV4Signer::new(credentials, region.to_string()))
    }

    /// Sign `request` at `time`.
    async fn sign_at(&self, request: &mut reqwest::Request, time: SystemTime) -> std::result::Result<(), String> {
        let credentials = self.credentials.provide_credentials().await.map_err(|e| format!("AWS credentials: {e}"))?;
        let identity: Identity = credentials.into();
        // The body's SHA-256 goes in `x-amz-content-sha256` too.
        let mut settings = SigningSettings::default();
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name(&self.service)
            .time(time)
            .settings(settings)
            .build()
            .map_err(|e| format!("SigV4 parameters: {e}"))?
            .into();
        let body = request.body().and_then(|body| body.as_bytes()).unwrap_or_default();
        let headers: Vec<(&str, &str)> =
            request.headers().iter().filter_map(|(name, value)| Some((name.as_str(), value.to_str().ok()?))).collect();
        let signable = SignableRequest::new(
            request.method().as_str(),
            request.url().as_str(),
            headers.into_iter(),
            SignableBody::Bytes(body),
        )
        .map_err(|e| format!("SigV4: {e}"))?;
        let (instructions, _signature) = sign(signable, &params).map_err(|e| format!("SigV4: {e}"))?.into_parts();
        let (headers, _query) = instructions.into_parts();
        for header in headers {
            let value = reqwest::header::HeaderValue::from_str(header.value()).map_err(|e| format!("SigV4: {e}"))?;
            request.headers_mut().insert(header.name(), value);
        }
        Ok(())
    }
}

impl RequestSigner for AwsSigV4Signer {
    fn sign<'a>(
        &'a self,
        request: &'a mut reqwest::Request,
    ) -> Pin<Box<dyn Future<Output = std::result::Result<(), String>> + Send + 'a>> {
        Box::pin(self.sign_at(request, SystemTime::now()))
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use aws_credential_types::Credentials;

    use super::*;

    fn signer(service: &str) -> AwsSigV4Signer {
        let keys = Credentials::new("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", None, None, "test");
        AwsSigV4Signer::new(SharedCredentialsProvider::new(keys), "us-east-1").service(service)
    }

    fn request(body: &'static str) -> reqwest::Request {
        let client = reqwest::Client::new();
        client
            .post("https://example.amazonaws.com/")
            .header("Content-Type", "application/x-www-form-urlencoded")
            .header("Content-Length", body.len().to_string())
            .body(body)
            .build()
            .unwrap_or_else(|e| panic!("{e}"))
    }

    fn authorization(request: &reqwest::Request) -> String {
        let value = request.headers().get("authorization").map(|v| v.to_str().map(str::to_string));
        value.and_then(Result::ok).unwrap_or_default()
    }

    /// 2015-08-30T12:36:00Z, the time of AWS's signing test suite.
    fn suite_time() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_440_938_160)
    }

    /// AWS's SigV4 test suite, case `post-x-www-form-urlencoded` (a signed body): our
    /// reading of a reqwest request gives the suite's signature.
    #[tokio::test]
    async fn a_request_signs_as_the_aws_test_suite_says() {
        let mut signed = request("Param1=value1");
        signer("service").sign_at(&mut signed, suite_time()).await.unwrap_or_else(|e| panic!("{e}"));
        let authorization = authorization(&signed);
        assert!(
            authorization.ends_with("Signature=d3875051da38690788ef43de4db0d8f280229d82040bfac253562e56c3f20e0b"),
            "{authorization}"
        );
        assert!(authorization.contains("Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request"));
        assert_eq!(signed.headers().get("x-amz-date").map(|v| v.as_bytes()), Some(&b"20150830T123600Z"[..]));
    }

    #[tokio::test]
    async fn the_body_and_the_service_are_signed() {
        let sign = |service: &'static str, body: &'static str| async move {
            let mut signed = request(body);
            signer(service).sign_at(&mut signed, suite_time()).await.unwrap_or_else(|e| panic!("{e}"));
            authorization(&signed)
        };
        let base = sign("aps", "Param1=value1").await;
        assert!(base.contains("/us-east-1/aps/aws4_request"), "{base}");
        assert_ne!(base, sign("aps", "Param1=value2").await, "another body, another signature");
        assert_ne!(base, sign("service", "Param1=value1").await);
        assert!(!format!("{:?}", signer("aps")).contains("EXAMPLEKEY"), "no keys in Debug");
    }
}

#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod config;
mod error;
mod model;
mod proto;
#[cfg(feature = "aws-sigv4")]
mod sigv4;
mod sink;

pub use config::{PrometheusSink, PrometheusSinkBuilder, RejectedSamples, RemoteWrite, RequestSigner};
pub use connector_base::DeliveryGuarantee;
pub use error::PrometheusError;
pub use model::{Label, Sample, TimeSeries, TimeSeriesBuilder};
#[cfg(feature = "aws-sigv4")]
pub use sigv4::AwsSigV4Signer;
pub use sink::RemoteWriteClient;

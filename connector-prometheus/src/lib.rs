#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod config;
mod error;
mod model;
mod proto;
mod sink;

pub use config::{PrometheusSink, PrometheusSinkBuilder, RejectedSamples, RemoteWrite, RequestSigner};
pub use connector_base::DeliveryGuarantee;
pub use error::PrometheusError;
pub use model::{Label, Sample, TimeSeries, TimeSeriesBuilder};
pub use sink::RemoteWriteClient;

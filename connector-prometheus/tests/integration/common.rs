//! Helpers shared by the connector-prometheus tests: the server, a target writing one
//! sample per record and reading them back with a range query.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use connector_base::DeliveryGuarantee;
use connector_prometheus::{PrometheusSink, PrometheusSinkBuilder, TimeSeries};
use connector_testkit::{SinkTarget, TestServer, TestkitError, servers};

/// The Prometheus server's URL (`PROMETHEUS_URL`, host services or a container), or
/// `None` when there is none and none is required.
pub async fn server() -> Option<String> {
    Some(TestServer::discover(&servers::PROMETHEUS).await.unwrap()?.endpoint.clone())
}

/// The metric every test writes; each target has a `run` label of its own.
pub const METRIC: &str = "flink_connectors_rs_test_samples";

/// Now, in milliseconds since the epoch.
pub fn now_ms() -> i64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
    i64::try_from(since.as_millis()).unwrap()
}

/// Record `id` as a sample: of series `id % series` (or its own series when
/// `series` is 0), at `base_ms + id`, value `id`.
#[derive(Clone)]
pub struct ToPrometheus {
    pub url: String,
    /// Where the sink writes: `url`, or a fault proxy in front of it.
    pub via: String,
    pub run: String,
    pub series: u64,
    pub base_ms: i64,
}

impl ToPrometheus {
    pub async fn new(test: &str, series: u64) -> Option<Arc<ToPrometheus>> {
        let url = server().await?;
        let run = format!("{test}_{}_{}", std::process::id(), fastrand::u32(..));
        // Twenty minutes back: inside the head block, and room for the samples.
        Some(Arc::new(ToPrometheus { via: url.clone(), url, run, series, base_ms: now_ms() - 20 * 60 * 1000 }))
    }

    pub fn series_of(&self, id: u64) -> String {
        (if self.series == 0 { id } else { id % self.series }).to_string()
    }

    pub fn builder(&self) -> PrometheusSinkBuilder<u64> {
        let (run, base) = (self.run.clone(), self.base_ms);
        let series = self.series;
        PrometheusSinkBuilder::new(format!("{}/api/v1/write", self.via), move |id: u64| {
            let label = if series == 0 { id } else { id % series };
            TimeSeries::builder(METRIC)
                .label("run", &run)
                .label("series", label.to_string())
                .sample(base + id as i64, id as f64)
                .build()
        })
    }
}

/// Every sample of `run` within the last hour: (series label, timestamp ms, value).
pub async fn samples(url: &str, run: &str) -> Vec<(String, i64, f64)> {
    let query = format!("{METRIC}{{run=\"{run}\"}}[1h]");
    let time = format!("{}", now_ms() as f64 / 1000.0);
    let address =
        reqwest::Url::parse_with_params(&format!("{url}/api/v1/query"), [("query", query.as_str()), ("time", &time)])
            .unwrap();
    let text = reqwest::Client::new().get(address).send().await.unwrap().text().await.unwrap();
    let body: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["status"], "success", "{body}");
    let mut found = Vec::new();
    for series in body["data"]["result"].as_array().unwrap() {
        let label = series["metric"]["series"].as_str().unwrap().to_string();
        for value in series["values"].as_array().unwrap() {
            let at = (value[0].as_f64().unwrap() * 1000.0).round() as i64;
            let v: f64 = value[1].as_str().unwrap().parse().unwrap();
            found.push((label.clone(), at, v));
        }
    }
    found
}

impl SinkTarget for ToPrometheus {
    type Record = u64;
    type Sink = PrometheusSink<u64>;

    fn guarantee(&self) -> DeliveryGuarantee {
        DeliveryGuarantee::ExactlyOnce
    }

    fn record(&self, id: u64) -> u64 {
        id
    }

    fn sink(&self) -> PrometheusSink<u64> {
        self.builder().max_time_in_buffer(std::time::Duration::from_millis(30)).build().unwrap()
    }

    /// The ids of the samples found, each checked against its series and timestamp.
    async fn read_back(&self) -> Result<Vec<u64>, TestkitError> {
        let mut ids = Vec::new();
        for (series, at, value) in samples(&self.url, &self.run).await {
            let id = value as u64;
            if series != self.series_of(id) || at != self.base_ms + id as i64 {
                return Err(TestkitError::Target(format!(
                    "sample {value} of series {series} at {at} is not one we wrote"
                )));
            }
            ids.push(id);
        }
        Ok(ids)
    }
}

//! Writes 600 readings of three series (a minute of readings every 300 ms, ending now)
//! to Prometheus through remote write, then asks Prometheus for them back and checks
//! each is there once. `PROMETHEUS_URL` (default `http://127.0.0.1:9090`); `cargo
//! xtask services up prometheus` starts the test server.

use connector_prometheus::{PrometheusSinkBuilder, TimeSeries};
use stream_core::prelude::*;

const PER_SERIES: i64 = 200;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("PROMETHEUS_URL").unwrap_or_else(|_| "http://127.0.0.1:9090".into());
    let run = format!("example-{}", std::process::id());
    let now = i64::try_from(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_millis())?;
    // (room, timestamp, temperature): one series per room, in time order.
    let readings: Vec<(String, i64, f64)> = ["kitchen", "hall", "attic"]
        .iter()
        .flat_map(|room| {
            (0..PER_SERIES).map(move |i| (room.to_string(), now - (PER_SERIES - i) * 300, 20.0 + (i % 7) as f64))
        })
        .collect();
    let label = run.clone();
    let sink =
        PrometheusSinkBuilder::new(format!("{url}/api/v1/write"), move |(room, at, value): (String, i64, f64)| {
            TimeSeries::builder("room_temperature_celsius")
                .label("room", room)
                .label("run", &label)
                .sample(at, value)
                .build()
        })
        .build()?;
    // One series per room, in time order: keyed by room, one subtask writes each.
    StreamEnvironment::builder()
        .parallelism(1)
        .build()?
        .from_source(CollectionSource::new(readings), "readings")
        .sink_to(sink, "prometheus")
        .execute("readings-to-prometheus")
        .await?;

    let query = format!("count_over_time(room_temperature_celsius{{run=\"{run}\"}}[2m])");
    let time = format!("{}", now as f64 / 1000.0 + 1.0);
    let address =
        reqwest::Url::parse_with_params(&format!("{url}/api/v1/query"), [("query", query.as_str()), ("time", &time)])?;
    let answer: serde_json::Value = serde_json::from_str(&reqwest::get(address).await?.text().await?)?;
    let counts: Vec<f64> = answer["data"]["result"]
        .as_array()
        .map(|series| series.iter().filter_map(|s| s["value"][1].as_str()?.parse().ok()).collect())
        .unwrap_or_default();
    if counts != vec![PER_SERIES as f64; 3] {
        return Err(format!("expected {PER_SERIES} samples in each of 3 series, found {counts:?}: {answer}").into());
    }
    println!("run {run}: 3 series of {PER_SERIES} samples each, read back from Prometheus");
    Ok(())
}

//! A Kafka -> Kafka exactly-once job whose metrics a Prometheus server can scrape:
//! the runtime's and the connectors' metrics (Flink's FLIP-33 names mapped to the
//! `metrics` facade, labelled `job`, `stage`, `subtask` and `connector`) are served by
//! `metrics-exporter-prometheus` at `http://<listen>/metrics`.
//!
//! It writes `--records` records to a fresh input topic, then reads it (unbounded)
//! and writes upper-cased values to an output topic, one transaction per checkpoint,
//! for `--seconds` seconds (or until Ctrl-C).
//!
//! ```sh
//! cargo xtask services up kafka
//! cargo run -p connector-kafka --example prometheus_metrics -- --seconds 30 &
//! curl -s http://127.0.0.1:9464/metrics | grep connector_
//! ```
//!
//! `KAFKA_BOOTSTRAP_SERVERS` (default `127.0.0.1:9092`) names another broker;
//! `--listen ADDR` another address for the exporter (default `127.0.0.1:9464`).

use std::net::SocketAddr;
use std::time::Duration;

use connector_base::DeliveryGuarantee;
use connector_base::schema::Utf8Schema;
use connector_kafka::rdkafka::ClientConfig;
use connector_kafka::rdkafka::producer::{FutureProducer, FutureRecord};
use connector_kafka::{KafkaSink, KafkaSource, ValueOnly, ValueTo};
use metrics_exporter_prometheus::PrometheusBuilder;
use stream_core::prelude::*;

mod common;

use common::{Failure, create_topics};

/// What one run does.
struct Options {
    bootstrap: String,
    listen: SocketAddr,
    records: u64,
    seconds: Option<u64>,
}

#[tokio::main]
async fn main() -> Result<(), Failure> {
    let options = options()?;
    PrometheusBuilder::new().with_http_listener(options.listen).install()?;
    eprintln!("metrics at http://{}/metrics", options.listen);
    let stop = async move {
        match options.seconds {
            Some(seconds) => tokio::time::sleep(Duration::from_secs(seconds)).await,
            None => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    };
    let result = run(&options.bootstrap, options.records, stop).await?;
    eprintln!("job stopped after {} checkpoints", result.metrics.checkpoints_completed);
    Ok(())
}

/// Fill a fresh input topic with `records` records, then run the job until `stop`.
async fn run(bootstrap: &str, records: u64, stop: impl Future<Output = ()>) -> Result<JobResult, Failure> {
    let run = format!("metrics-{}-{:04x}", std::process::id(), fastrand::u16(..));
    let (input, output) = (format!("{run}-in"), format!("{run}-out"));
    create_topics(bootstrap, &[&input, &output], 2).await?;
    produce(bootstrap, &input, records).await?;

    let source = KafkaSource::builder(bootstrap, ValueOnly(Utf8Schema)).topics([&input]).build()?;
    let sink = KafkaSink::builder(bootstrap, ValueTo::new(&output, Utf8Schema))
        .delivery_guarantee(DeliveryGuarantee::ExactlyOnce)
        .transactional_id_prefix(&run)
        .build()?;
    let checkpoints = std::env::temp_dir().join(format!("{run}-checkpoints"));
    let job = StreamEnvironment::builder()
        .checkpointing(CheckpointConfig::builder().interval(Duration::from_millis(500)).build()?)
        .state_backend(FsStateBackend::new(&checkpoints)?)
        .restart_strategy(RestartStrategy::fixed_delay(3, Duration::from_millis(500)))
        .parallelism(1)
        .build()?
        .from_source(source, "from-input")
        .map(|value: String| value.to_uppercase())
        .sink_to(sink, "to-output")
        .start("prometheus-metrics");
    stop.await;
    let result = job.cancel_and_join().await?;
    let _ = std::fs::remove_dir_all(&checkpoints);
    Ok(result)
}

fn options() -> Result<Options, Failure> {
    let mut options = Options {
        bootstrap: std::env::var("KAFKA_BOOTSTRAP_SERVERS").unwrap_or_else(|_| "127.0.0.1:9092".into()),
        listen: SocketAddr::from(([127, 0, 0, 1], 9464)),
        records: 10_000,
        seconds: None,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    for pair in args.chunks(2) {
        let [flag, value] = pair else { return Err(format!("{pair:?} needs a value").into()) };
        let bad = |e: &dyn std::fmt::Display| format!("{flag} {value}: {e}");
        match flag.as_str() {
            "--listen" => options.listen = value.parse().map_err(|e| bad(&e))?,
            "--records" => options.records = value.parse().map_err(|e| bad(&e))?,
            "--seconds" => options.seconds = Some(value.parse().map_err(|e| bad(&e))?),
            other => {
                return Err(format!(
                    "unknown argument {other}; usage: prometheus_metrics [--listen ADDR] [--records N] [--seconds S]"
                )
                .into());
            }
        }
    }
    Ok(options)
}

async fn produce(bootstrap: &str, topic: &str, records: u64) -> Result<(), Failure> {
    let producer: FutureProducer = ClientConfig::new().set("bootstrap.servers", bootstrap).create()?;
    let mut sent = Vec::new();
    for i in 0..records {
        let value = format!("order {i}: two pounds of coffee");
        sent.push(producer.send_result(FutureRecord::<(), _>::to(topic).payload(&value)).map_err(|(e, _)| e)?);
    }
    for delivery in sent {
        delivery.await?.map_err(|(e, _)| e)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use connector_testkit::{TestServer, servers};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// The series of one scrape: `name{labels}` to value.
    async fn scrape(addr: SocketAddr) -> BTreeMap<String, f64> {
        let Ok(mut stream) = tokio::net::TcpStream::connect(addr).await else { return BTreeMap::new() };
        let request = format!("GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.unwrap();
        answer
            .lines()
            .filter(|line| !line.starts_with('#'))
            .filter_map(|line| line.rsplit_once(' '))
            .filter_map(|(series, value)| Some((series.to_string(), value.parse().ok()?)))
            .collect()
    }

    /// The value of `name` for the series with every one of `labels`.
    fn value(scraped: &BTreeMap<String, f64>, name: &str, labels: &[&str]) -> Option<f64> {
        scraped
            .iter()
            .find(|(series, _)| series.starts_with(&format!("{name}{{")) && labels.iter().all(|l| series.contains(l)))
            .map(|(_, v)| *v)
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_scrape_shows_the_documented_metrics_with_their_labels() {
        let Some(kafka) = TestServer::discover(&servers::KAFKA).await.unwrap() else { return };
        let listen = {
            let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            probe.local_addr().unwrap()
        };
        PrometheusBuilder::new().with_http_listener(listen).install().unwrap();
        let (done, stopped) = tokio::sync::oneshot::channel::<()>();
        let bootstrap = kafka.endpoint.clone();
        let job = tokio::spawn(async move {
            run(&bootstrap, 5_000, async move {
                let _ = stopped.await;
            })
            .await
        });

        let job_labels = ["job=\"prometheus-metrics\""];
        let source = ["job=\"prometheus-metrics\"", "stage=\"from-input\"", "subtask=\"0\"", "connector=\"kafka\""];
        let sink = ["job=\"prometheus-metrics\"", "stage=\"to-output\"", "subtask=\"0\"", "connector=\"kafka\""];
        // Counters that must have moved once every record went through and a
        // checkpoint committed them, and gauges that must be there.
        let moved = [
            ("connector_source_records_in_total", &source[..], 5_000.0),
            ("connector_source_bytes_in_total", &source[..], 5_000.0 * 25.0),
            ("connector_sink_records_out_total", &sink[..], 5_000.0),
            ("connector_sink_bytes_out_total", &sink[..], 5_000.0 * 25.0),
            ("connector_sink_commits_succeeded_total", &sink[..], 1.0),
            ("stream_checkpoints_completed_total", &job_labels[..], 1.0),
            ("stream_records_in_total", &["stage=\"to-output\""][..], 5_000.0),
        ];
        let present = [
            ("connector_source_pending_records", &source[..]),
            ("connector_source_fetch_lag_seconds", &source[..]),
            ("connector_sink_send_time_seconds", &sink[..]),
            ("connector_sink_commits_failed_total", &sink[..]),
            ("stream_checkpoint_duration_seconds_count", &job_labels[..]),
        ];
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        let mut scraped;
        loop {
            scraped = scrape(listen).await;
            let all_moved = moved
                .iter()
                .all(|(name, labels, at_least)| value(&scraped, name, labels).is_some_and(|v| v >= *at_least));
            let pending_drained = value(&scraped, "connector_source_pending_records", &source) == Some(0.0);
            if (all_moved && pending_drained) || tokio::time::Instant::now() > deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        let _ = done.send(());
        job.await.unwrap().unwrap();

        for (name, labels, at_least) in moved {
            let got = value(&scraped, name, labels);
            assert!(got.is_some_and(|v| v >= at_least), "{name} with {labels:?}: {got:?}, wanted >= {at_least}");
        }
        for (name, labels) in present {
            assert!(value(&scraped, name, labels).is_some(), "{name} with {labels:?} missing from {scraped:#?}");
        }
        // Every record was read: nothing pending; the records were written before the
        // job started, so the newest one fetched is older than the fetch.
        assert_eq!(value(&scraped, "connector_source_pending_records", &source), Some(0.0));
        assert!(value(&scraped, "connector_source_fetch_lag_seconds", &source).is_some_and(|lag| lag > 0.0));
        assert!(value(&scraped, "connector_sink_send_time_seconds", &sink).is_some_and(|t| t > 0.0));
        assert_eq!(value(&scraped, "connector_sink_commits_failed_total", &sink), Some(0.0));
    }
}

//! A Kafka -> Kafka job, exactly-once end to end: it reads an input topic (bounded at
//! the end each partition had at the start), upper-cases every value and writes it to
//! an output topic in one transaction per checkpoint. Checkpoints go to a directory
//! (`FsStateBackend`), and a fixed-delay restart strategy recovers the job from the
//! newest one.
//!
//! To show recovery, the job crashes itself twice: once between a checkpoint's
//! completion and its commit (the transaction is recovered from the checkpoint and
//! committed by the restarted job) and once in the middle of the stream. At the end
//! it reads the output topic back as a `read_committed` consumer and prints
//! `records_in=<n> records_out=<n> lost=0 duplicated=0`.
//!
//! ```sh
//! cargo xtask services up kafka
//! cargo run -p connector-kafka --example kafka_to_kafka
//! ```
//!
//! `KAFKA_BOOTSTRAP_SERVERS` (default `127.0.0.1:9092`) names another broker;
//! `--records N` changes the input size (default 20 000).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use connector_base::DeliveryGuarantee;
use connector_base::schema::Utf8Schema;
use connector_kafka::rdkafka::ClientConfig;
use connector_kafka::rdkafka::consumer::{BaseConsumer, Consumer};
use connector_kafka::rdkafka::message::Message;
use connector_kafka::rdkafka::producer::{FutureProducer, FutureRecord};
use connector_kafka::{KafkaSink, KafkaSource, StoppingOffsets, ValueOnly, ValueTo};
use stream_core::fault::{Fault, FaultInjector, FaultPoint};
use stream_core::prelude::*;

const PARTITIONS: i32 = 3;

mod common;

use common::{Failure, create_topics};

#[tokio::main]
async fn main() -> Result<(), Failure> {
    let bootstrap = std::env::var("KAFKA_BOOTSTRAP_SERVERS").unwrap_or_else(|_| "127.0.0.1:9092".into());
    let records = records_arg()?;
    let run = format!("example-{}-{:04x}", std::process::id(), fastrand::u16(..));
    let (input, output) = (format!("{run}-in"), format!("{run}-out"));
    create_topics(&bootstrap, &[&input, &output], PARTITIONS).await?;
    produce(&bootstrap, &input, records).await?;
    eprintln!("wrote {records} records to `{input}` on {bootstrap}");

    let source = KafkaSource::builder(&bootstrap, ValueOnly(Utf8Schema))
        .topics([&input])
        .group_id(format!("{run}-job"))
        .bounded(StoppingOffsets::Latest)
        .build()?;
    let sink = KafkaSink::builder(&bootstrap, ValueTo::new(&output, Utf8Schema))
        .delivery_guarantee(DeliveryGuarantee::ExactlyOnce)
        .transactional_id_prefix(format!("{run}-job"))
        .build()?;

    let checkpoints = std::env::temp_dir().join(format!("{run}-checkpoints"));
    let faults = FaultInjector::new();
    faults.plant(Fault::new("to-output", FaultPoint::AfterCheckpointBeforeCommit).on_fresh_checkpoint());
    // Each source subtask reads about half the records; this fires a quarter of the way.
    faults.plant(Fault::new("from-input", FaultPoint::AfterRecords(records / 8)).after_faults(1));
    let started = Instant::now();
    let result = StreamEnvironment::builder()
        .checkpointing(CheckpointConfig::builder().interval(Duration::from_millis(500)).build()?)
        .state_backend(FsStateBackend::new(&checkpoints)?)
        .restart_strategy(RestartStrategy::fixed_delay(3, Duration::from_millis(500)))
        .parallelism(2)
        .fault_injector(faults.clone())
        .build()?
        .from_source(source, "from-input")
        .map(|value: String| value.to_uppercase())
        .sink_to(sink, "to-output")
        .execute("kafka-to-kafka")
        .await?;
    eprintln!(
        "job finished in {:.1} s: {} checkpoints, {} restarts (crashes planted: {}, fired: {}); checkpoints in {}",
        started.elapsed().as_secs_f64(),
        result.metrics.checkpoints_completed,
        result.restarts,
        faults.fired().len() + faults.pending().len(),
        faults.fired().len(),
        checkpoints.display()
    );

    let values = read_committed(&bootstrap, &output, records)?;
    let mut seen: BTreeMap<String, u64> = BTreeMap::new();
    for value in &values {
        *seen.entry(value.clone()).or_default() += 1;
    }
    let expected: Vec<String> = (0..records).map(|i| value(i).to_uppercase()).collect();
    let lost = expected.iter().filter(|v| !seen.contains_key(*v)).count();
    let duplicated: u64 = seen.values().map(|n| n - 1).sum();
    let unexpected = seen.keys().filter(|v| !expected.contains(v)).count();
    println!("records_in={records} records_out={} lost={lost} duplicated={duplicated}", values.len());
    if lost > 0 || duplicated > 0 || unexpected > 0 {
        return Err(format!("the output topic `{output}` does not match the input ({unexpected} unexpected)").into());
    }
    let _ = std::fs::remove_dir_all(&checkpoints);
    Ok(())
}

fn value(i: u64) -> String {
    format!("order {i}: two pounds of coffee")
}

fn records_arg() -> Result<u64, Failure> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [] => Ok(20_000),
        [flag, n] if flag == "--records" => n.parse::<u64>().map_err(|e| format!("--records {n}: {e}").into()),
        other => Err(format!("unknown arguments {other:?}; usage: kafka_to_kafka [--records N]").into()),
    }
}

async fn produce(bootstrap: &str, topic: &str, records: u64) -> Result<(), Failure> {
    let producer: FutureProducer = ClientConfig::new().set("bootstrap.servers", bootstrap).create()?;
    let mut sent = Vec::new();
    for i in 0..records {
        let value = value(i);
        let record = FutureRecord::to(topic).payload(&value).key(&value);
        sent.push(producer.send_result(record).map_err(|(e, _)| e)?);
        if sent.len() == 1_000 {
            for delivery in sent.drain(..) {
                delivery.await?.map_err(|(e, _)| e)?;
            }
        }
    }
    for delivery in sent {
        delivery.await?.map_err(|(e, _)| e)?;
    }
    Ok(())
}

/// Every committed value of `topic`: read `read_committed` until `expected` values
/// arrived and nothing more comes for two seconds (a duplicate would come after).
fn read_committed(bootstrap: &str, topic: &str, expected: u64) -> Result<Vec<String>, Failure> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", format!("{topic}-check"))
        .set("isolation.level", "read_committed")
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()?;
    consumer.subscribe(&[topic])?;
    let mut values = Vec::new();
    let (deadline, mut quiet_since) = (Instant::now() + Duration::from_secs(60), Instant::now());
    while Instant::now() < deadline {
        match consumer.poll(Duration::from_millis(200)) {
            Some(message) => {
                let message = message?;
                values.push(String::from_utf8_lossy(message.payload().unwrap_or_default()).into_owned());
                quiet_since = Instant::now();
            }
            None if values.len() as u64 >= expected && quiet_since.elapsed() > Duration::from_secs(2) => break,
            None => {}
        }
    }
    Ok(values)
}

//! Reads a queue exactly-once (correlation ids), upper-cases each message and
//! publishes it to a second queue with confirms. It first publishes 1 000 sample
//! messages to a fresh queue, and at the end drains the output queue and checks that
//! every message arrived once. `RABBITMQ_URL` (default
//! `amqp://guest:guest@127.0.0.1:5672/%2f`); `cargo xtask services up rabbitmq` starts
//! a broker.

use std::time::Duration;

use connector_base::DeliveryGuarantee;
use connector_base::schema::Utf8Schema;
use connector_rabbitmq::lapin::options::{
    BasicGetOptions, BasicPublishOptions, ConfirmSelectOptions, QueueDeclareOptions,
};
use connector_rabbitmq::lapin::types::FieldTable;
use connector_rabbitmq::lapin::{BasicProperties, Connection, ConnectionProperties};
use connector_rabbitmq::{RabbitMqSink, RabbitMqSource, ToQueue};
use stream_core::prelude::*;

const MESSAGES: usize = 1_000;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("RABBITMQ_URL").unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into());
    let (input, output) = (format!("example-in-{}", std::process::id()), format!("example-out-{}", std::process::id()));
    let conn = Connection::connect(&url, ConnectionProperties::default()).await?;
    let ch = conn.create_channel().await?;
    for queue in [&input, &output] {
        ch.queue_declare(queue.as_str().into(), QueueDeclareOptions::default(), FieldTable::default()).await?;
    }
    ch.confirm_select(ConfirmSelectOptions::default()).await?;
    for i in 0..MESSAGES {
        let props = BasicProperties::default().with_correlation_id(format!("order-{i}").into());
        let body = format!("order {i}");
        drop(
            ch.basic_publish("".into(), input.as_str().into(), BasicPublishOptions::default(), body.as_bytes(), props)
                .await?,
        );
    }
    ch.wait_for_confirms().await?;

    let source = RabbitMqSource::builder(&url, &input, Utf8Schema)
        .delivery_guarantee(DeliveryGuarantee::ExactlyOnce)
        .use_correlation_ids(true)
        .build()?;
    let sink = RabbitMqSink::builder(&url, ToQueue::new(&output, Utf8Schema)).build()?;
    let job = StreamEnvironment::builder()
        .checkpointing(CheckpointConfig::builder().interval(Duration::from_millis(200)).build()?)
        .parallelism(1)
        .build()?
        .from_source(source, "orders")
        .map(|order: String| order.to_uppercase())
        .sink_to(sink, "orders-upper")
        .start("queue-to-queue");

    // The source is unbounded: stop the job once the output queue holds everything.
    let mut received = Vec::new();
    for _ in 0..300 {
        while let Some(m) = ch.basic_get(output.as_str().into(), BasicGetOptions { no_ack: true }).await? {
            received.push(String::from_utf8_lossy(&m.delivery.data).into_owned());
        }
        if received.len() >= MESSAGES {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let result = job.cancel_and_join().await?;
    received.sort();
    received.dedup();
    for queue in [&input, &output] {
        ch.queue_delete(queue.as_str().into(), Default::default()).await?;
    }
    println!("{result:?}");
    println!("sent={MESSAGES} received_distinct={}", received.len());
    if received.len() != MESSAGES {
        return Err(format!("{} of {MESSAGES} messages arrived", received.len()).into());
    }
    Ok(())
}

//! Reads a subscription until an end record, upper-cases each message, and publishes
//! it with an attribute to a second topic. It first makes both topics and their
//! subscriptions and publishes 1 000 sample messages and the end record; the job
//! ends by itself at the end record, and the output is drained and checked: every
//! message arrived. `PUBSUB_EMULATOR_HOST` (default `127.0.0.1:8085`); `cargo xtask
//! services up pubsub` starts the emulator.

use std::collections::BTreeSet;
use std::time::Duration;

use connector_base::schema::Utf8Schema;
use connector_pubsub::google_cloud_pubsub::client::{Publisher, Subscriber, SubscriptionAdmin, TopicAdmin};
use connector_pubsub::google_cloud_pubsub::model::Message;
use connector_pubsub::{DataOnly, OutgoingMessage, PubSubEndpoint, PubSubSink, PubSubSource};
use stream_core::prelude::*;

const PROJECT: &str = "example";
const MESSAGES: usize = 1_000;
const END: &str = "END";

fn anonymous() -> google_cloud_auth::credentials::Credentials {
    google_cloud_auth::credentials::anonymous::Builder::new().build()
}

/// Make topic `topic` with subscription `<topic>-sub`.
async fn topic_with_subscription(url: &str, topic: &str) -> Result<(), Box<dyn std::error::Error>> {
    let topics = TopicAdmin::builder().with_endpoint(url).with_credentials(anonymous()).build().await?;
    let topic_name = format!("projects/{PROJECT}/topics/{topic}");
    topics.create_topic().set_name(&topic_name).send().await?;
    let subscriptions = SubscriptionAdmin::builder().with_endpoint(url).with_credentials(anonymous()).build().await?;
    let subscription = format!("projects/{PROJECT}/subscriptions/{topic}-sub");
    subscriptions.create_subscription().set_name(subscription).set_topic(topic_name).send().await?;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let host = std::env::var("PUBSUB_EMULATOR_HOST").unwrap_or_else(|_| "127.0.0.1:8085".into());
    let url = format!("http://{host}");
    let (input, output) = (format!("orders-{}", std::process::id()), format!("orders-upper-{}", std::process::id()));
    topic_with_subscription(&url, &input).await?;
    topic_with_subscription(&url, &output).await?;

    let publisher = Publisher::builder(format!("projects/{PROJECT}/topics/{input}"))
        .with_endpoint(&url)
        .with_credentials(anonymous())
        .build()
        .await?;
    let bodies: Vec<String> = (0..MESSAGES).map(|i| format!("order {i}")).chain([END.to_string()]).collect();
    for body in &bodies {
        publisher.publish(Message::new().set_data(bytes::Bytes::from(body.clone()))).await?;
    }

    // The source ends at the end record: the job is bounded and ends by itself.
    let source = PubSubSource::builder(PROJECT, format!("{input}-sub"), DataOnly(Utf8Schema))
        .endpoint(PubSubEndpoint::emulator(&host))
        .end_of_stream(|body: &String| body == END)
        .build()?;
    let sink = PubSubSink::builder(PROJECT, &output, Utf8Schema)
        .endpoint(PubSubEndpoint::emulator(&host))
        .messages(|order: &String| Ok(OutgoingMessage::new(order.as_bytes()).attribute("stage", "upper")))
        .build()?;
    StreamEnvironment::builder()
        .checkpointing(CheckpointConfig::builder().interval(Duration::from_millis(200)).build()?)
        .parallelism(1)
        .build()?
        .from_source(source, "orders")
        .map(|order: String| order.to_uppercase())
        .sink_to(sink, "orders-upper")
        .execute("topic-to-topic")
        .await?;

    let subscriber = Subscriber::builder().with_endpoint(&url).with_credentials(anonymous()).build().await?;
    let mut stream = subscriber.subscribe(format!("projects/{PROJECT}/subscriptions/{output}-sub")).build();
    let mut received = BTreeSet::new();
    while let Ok(Some(next)) = tokio::time::timeout(Duration::from_secs(2), stream.next()).await {
        let (message, handler) = next?;
        if message.attributes.get("stage").map(String::as_str) == Some("upper") {
            received.insert(String::from_utf8_lossy(&message.data).into_owned());
        }
        handler.ack();
    }
    let expected: BTreeSet<String> = (0..MESSAGES).map(|i| format!("ORDER {i}")).collect();
    if received != expected {
        return Err(format!("{} of {MESSAGES} messages arrived", received.len()).into());
    }
    println!("{MESSAGES} messages read until the end record, upper-cased and published to {output}");
    Ok(())
}

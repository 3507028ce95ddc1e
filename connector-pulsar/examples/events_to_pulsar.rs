//! Writes 1 000 events to a Pulsar topic, keyed by user, with the at-least-once sink,
//! checkpoints every 200 ms. Against `PULSAR_URL` (default `pulsar://127.0.0.1:6650`;
//! `cargo xtask services up pulsar` starts the test broker):
//! `cargo run -p connector-pulsar --example events_to_pulsar`.

use std::time::Duration;

use connector_pulsar::{PulsarSinkBuilder, Utf8Schema};
use stream_core::prelude::*;

#[tokio::main]
async fn main() -> stream_core::Result<()> {
    let url = std::env::var("PULSAR_URL").unwrap_or_else(|_| "pulsar://127.0.0.1:6650".to_string());
    let topic = format!("persistent://public/default/events-{}", std::process::id());
    let events: Vec<String> = (0..1_000).map(|i| format!("user-{},clicked,{i}", i % 10)).collect();
    let sink = PulsarSinkBuilder::new(&url, &topic, Utf8Schema)
        .key(|event: &String| event.split(',').next().map(str::to_string))
        .build()?;
    StreamEnvironment::builder()
        .checkpointing(CheckpointConfig::builder().interval(Duration::from_millis(200)).build()?)
        .build()?
        .from_source(CollectionSource::new(events), "events")
        .sink_to(sink, "pulsar")
        .execute("events-to-pulsar")
        .await?;
    println!("wrote 1000 events to {topic}, each confirmed by the broker");
    Ok(())
}

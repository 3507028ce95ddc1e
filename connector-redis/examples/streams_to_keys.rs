//! Reads a Redis stream (bounded) and writes each entry as a key with `SET`,
//! exactly-once. It first appends 1 000 sample entries to a fresh stream, then checks
//! that every key arrived. `REDIS_URL` (default `redis://127.0.0.1:6379`);
//! `cargo xtask services up redis` starts a server.

use std::time::Duration;

use connector_base::DeliveryGuarantee;
use connector_redis::redis::AsyncCommands;
use connector_redis::{CommandKind, RedisCommand, RedisEndpoint, RedisSinkBuilder, RedisStreamsSource, StreamEntry};
use stream_core::prelude::*;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let stream = format!("example-orders-{}", std::process::id());
    let mut conn = connector_redis::redis::Client::open(url.as_str())?.get_multiplexed_async_connection().await?;
    for i in 0..1_000u32 {
        let _: String = conn.xadd(&stream, "*", &[("order", i.to_string()), ("amount", (i * 3).to_string())]).await?;
    }

    let endpoint = RedisEndpoint::standalone(&url);
    let source = RedisStreamsSource::builder(endpoint.clone()).streams([stream.clone()]).bounded().build()?;
    let prefix = stream.clone();
    let sink = RedisSinkBuilder::new(endpoint, CommandKind::Set, move |e: StreamEntry| RedisCommand::Set {
        key: format!("{prefix}:{}", String::from_utf8_lossy(e.field("order").unwrap_or_default())),
        value: e.field("amount").unwrap_or_default().to_vec(),
        ttl_ms: Some(600_000),
    })
    .delivery_guarantee(DeliveryGuarantee::ExactlyOnce)
    .build()?;
    let result = StreamEnvironment::builder()
        .checkpointing(CheckpointConfig::builder().interval(Duration::from_millis(200)).build()?)
        .parallelism(1)
        .build()?
        .from_source(source, "orders")
        .sink_to(sink, "order-keys")
        .execute("streams-to-keys")
        .await?;

    let mut missing = 0;
    for i in 0..1_000u32 {
        let amount: Option<String> = conn.get(format!("{stream}:{i}")).await?;
        if amount != Some((i * 3).to_string()) {
            missing += 1;
        }
    }
    let _: () = conn.del(&stream).await?;
    println!("{result:?}");
    println!("entries=1000 keys_written={} missing={missing}", 1_000 - missing);
    if missing > 0 {
        return Err(format!("{missing} keys missing").into());
    }
    Ok(())
}

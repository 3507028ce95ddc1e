//! One direction of a proxied connection: read chunks (whole frames for Kafka and
//! Pulsar), hold
//! them for the latency, forward them at the bandwidth, and forward nothing while
//! stalled.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{ReadHalf, WriteHalf};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::kafka::{self, Calls, Direction};
use super::{Framing, Shared, pulsar};

/// Chunks read but not yet forwarded, per direction: enough to keep a fast link full
/// under latency, small enough that a stall holds the reader back soon.
const IN_FLIGHT_CHUNKS: usize = 64;

/// Forward `from` to `to` until `from` ends (then half-close `to`) or either fails.
/// Borrowed halves: dropped by a cut, they send nothing; the socket's zero linger
/// then resets it.
pub(crate) async fn forward(
    mut from: ReadHalf<'_>,
    mut to: WriteHalf<'_>,
    shared: Arc<Shared>,
    direction: Direction,
    calls: Calls,
) {
    let (chunks_tx, mut chunks_rx) = mpsc::channel::<(Instant, Vec<u8>)>(IN_FLIGHT_CHUNKS);
    let reading = {
        let shared = shared.clone();
        async move {
            let mut stalled = shared.stalled.subscribe();
            loop {
                // Stalled: read nothing either, so the sender's window fills up.
                let _ = stalled.wait_for(|s| !*s).await;
                let chunk = match shared.framing {
                    Framing::Kafka(broker, proxy) => {
                        kafka::read_frame(&mut from, direction, &calls, (broker, proxy), &shared.rewritten).await
                    }
                    Framing::Pulsar(broker, proxy) => {
                        pulsar::read_frame(&mut from, direction, (broker, proxy), &shared.rewritten).await
                    }
                    Framing::Raw => read_chunk(&mut from).await,
                };
                match chunk {
                    Ok(Some(bytes)) => {
                        if chunks_tx.send((Instant::now(), bytes)).await.is_err() {
                            return;
                        }
                    }
                    _ => return,
                }
            }
        }
    };
    let writing = async {
        let mut stalled = shared.stalled.subscribe();
        while let Some((read_at, bytes)) = chunks_rx.recv().await {
            let latency = Duration::from_micros(shared.latency_micros.load(Ordering::Relaxed));
            tokio::time::sleep_until(read_at + latency).await;
            let _ = stalled.wait_for(|s| !*s).await;
            if to.write_all(&bytes).await.is_err() {
                return false;
            }
            let rate = shared.bytes_per_second.load(Ordering::Relaxed);
            if rate > 0 {
                tokio::time::sleep(Duration::from_secs_f64(bytes.len() as f64 / rate as f64)).await;
            }
        }
        true
    };
    let (_, ended_cleanly) = tokio::join!(reading, writing);
    if ended_cleanly {
        let _ = to.shutdown().await;
    }
}

async fn read_chunk(from: &mut ReadHalf<'_>) -> std::io::Result<Option<Vec<u8>>> {
    let mut buf = vec![0u8; 16 * 1024];
    let n = from.read(&mut buf).await?;
    if n == 0 {
        return Ok(None);
    }
    buf.truncate(n);
    Ok(Some(buf))
}

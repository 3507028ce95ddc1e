//! What the proxy's framings share: the direction of a frame and the size that
//! starts Kafka and Pulsar frames.

use tokio::io::AsyncReadExt;
use tokio::net::tcp::ReadHalf;

/// Which way the bytes go (requests go to the server, replies to the client).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    ToServer,
    ToClient,
}

/// The 4-byte big-endian size that starts a Kafka or Pulsar frame; `None` at a clean
/// end of the stream.
pub(crate) async fn read_size(from: &mut ReadHalf<'_>) -> std::io::Result<Option<[u8; 4]>> {
    let mut size = [0u8; 4];
    match from.read_exact(&mut size).await {
        Ok(_) => Ok(Some(size)),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(None),
        Err(e) => Err(e),
    }
}

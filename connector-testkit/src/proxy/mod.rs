//! A TCP fault proxy between a job and its server: it cuts every live connection
//! (the client sees a reset),
//! refuses new ones for a while, adds latency, throttles bandwidth, stalls (accepts
//! and forwards nothing) or silences the live connections for good, by hand or on a
//! [`NetworkFault`] schedule.
//!
//! ```no_run
//! # async fn run() -> Result<(), connector_testkit::TestkitError> {
//! use connector_testkit::proxy::FaultProxy;
//! let proxy = FaultProxy::start("127.0.0.1:6379".parse().unwrap()).await?;
//! let url = format!("redis://{}", proxy.addr()); // the job connects here
//! proxy.cut_all();
//! proxy.refuse_for(std::time::Duration::from_millis(500));
//! # Ok(()) }
//! ```
//!
//! With [`FaultProxy::start_kafka`] the proxy also rewrites the broker's port in
//! Metadata and FindCoordinator replies, so that a Kafka client that bootstraps
//! through the proxy keeps every later connection on it; [`FaultProxy::start_pulsar`]
//! does the same for Pulsar lookups and adds the checksum pulsar-lite leaves out of
//! message frames.

mod frame;
mod kafka;
mod pipe;
mod pulsar;
mod schedule;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

pub use schedule::{FaultReport, NetworkFault};

use crate::TestkitError;

/// What the proxy has seen so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProxyStats {
    /// Connections accepted and forwarded.
    pub accepted: u64,
    /// Connections reset at once because the proxy was refusing.
    pub refused: u64,
    /// Live connections cut.
    pub cut: u64,
    /// Live connections silenced.
    pub silenced: u64,
    /// Broker ports rewritten in Kafka replies; Pulsar frames fixed.
    pub rewritten: u64,
}

/// A running fault proxy; cloning shares it. It stops when the last clone is dropped.
#[derive(Clone)]
pub struct FaultProxy {
    shared: Arc<Shared>,
    addr: SocketAddr,
    _accepting: Arc<AbortOnDrop>,
}

struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

pub(crate) struct Shared {
    upstream: SocketAddr,
    framing: Framing,
    refuse_until: Mutex<Option<Instant>>,
    latency_micros: AtomicU64,
    bytes_per_second: AtomicU64,
    stalled: watch::Sender<bool>,
    cuts: watch::Sender<u64>,
    silences: watch::Sender<u64>,
    accepted: AtomicU64,
    refused: AtomicU64,
    cut: AtomicU64,
    silenced: AtomicU64,
    rewritten: AtomicU64,
    live: AtomicU64,
}

/// How the proxy reads what it forwards.
#[derive(Clone, Copy)]
pub(crate) enum Framing {
    /// Chunks as they come.
    Raw,
    /// Kafka frames: `(upstream port, proxy port)` for reply rewriting.
    Kafka(u16, u16),
    /// Pulsar frames: `(upstream port, proxy port)` for lookups, checksums added.
    Pulsar(u16, u16),
}

impl std::fmt::Debug for FaultProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultProxy").field("addr", &self.addr).field("upstream", &self.shared.upstream).finish()
    }
}

impl FaultProxy {
    /// A proxy on a free port of 127.0.0.1 forwarding to `upstream`.
    pub async fn start(upstream: SocketAddr) -> Result<FaultProxy, TestkitError> {
        FaultProxy::bind(upstream, |_| Framing::Raw).await
    }

    /// A proxy for a Kafka broker at `upstream`: replies that name the broker's port
    /// name the proxy's instead (the broker must advertise the host the proxy listens
    /// on, 127.0.0.1).
    pub async fn start_kafka(upstream: SocketAddr) -> Result<FaultProxy, TestkitError> {
        FaultProxy::bind(upstream, |port| Framing::Kafka(upstream.port(), port)).await
    }

    /// A proxy for a Pulsar broker at `upstream`: lookup answers that name the
    /// broker's port name the proxy's instead, and message frames without the
    /// (optional) magic number and CRC32C checksum get them, as a real broker sends
    /// them (pulsar-lite leaves them out; the `pulsar` crate requires them). The
    /// Pulsar tests reach pulsar-lite through one, faults or not.
    pub async fn start_pulsar(upstream: SocketAddr) -> Result<FaultProxy, TestkitError> {
        FaultProxy::bind(upstream, |port| Framing::Pulsar(upstream.port(), port)).await
    }

    /// A proxy for the server at `endpoint` (`host:port`, or a URL such as
    /// `redis://127.0.0.1:6379/0` or `http://localhost:4566`).
    pub async fn for_endpoint(endpoint: &str) -> Result<FaultProxy, TestkitError> {
        FaultProxy::start(resolve(endpoint).await?).await
    }

    async fn bind(upstream: SocketAddr, framing: impl Fn(u16) -> Framing) -> Result<FaultProxy, TestkitError> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| TestkitError::Target(format!("fault proxy: cannot listen on 127.0.0.1: {e}")))?;
        let addr = listener.local_addr().map_err(|e| TestkitError::Target(format!("fault proxy: {e}")))?;
        let shared = Arc::new(Shared {
            upstream,
            framing: framing(addr.port()),
            refuse_until: Mutex::new(None),
            latency_micros: AtomicU64::new(0),
            bytes_per_second: AtomicU64::new(0),
            stalled: watch::channel(false).0,
            cuts: watch::channel(0).0,
            silences: watch::channel(0).0,
            accepted: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            cut: AtomicU64::new(0),
            silenced: AtomicU64::new(0),
            rewritten: AtomicU64::new(0),
            live: AtomicU64::new(0),
        });
        let accepting = tokio::spawn(accept_loop(listener, shared.clone()));
        Ok(FaultProxy { shared, addr, _accepting: Arc::new(AbortOnDrop(accepting)) })
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `endpoint` with its `host:port` replaced by the proxy's (`http://127.0.0.1:4566`
    /// becomes `http://127.0.0.1:<proxy port>`).
    pub fn endpoint_for(&self, endpoint: &str) -> String {
        let parts = Endpoint::split(endpoint);
        format!("{}{}{}", parts.before_host, self.addr, parts.tail)
    }

    /// Cut every live connection: the client sees a reset, the server a plain close.
    pub fn cut_all(&self) {
        self.shared.cuts.send_modify(|generation| *generation += 1);
    }

    /// Every connection open now goes silent for good: nothing more is forwarded
    /// either way and it is not closed, as when a peer or a middlebox vanishes
    /// without a word; what the client sends on it is dropped. New connections work.
    /// A silenced connection ends when its client closes it, or at a cut.
    pub fn silence_live(&self) {
        self.shared.silences.send_modify(|generation| *generation += 1);
    }

    /// Reset every new connection for `duration` (from now).
    pub fn refuse_for(&self, duration: Duration) {
        if let Ok(mut until) = self.shared.refuse_until.lock() {
            *until = Some(Instant::now() + duration);
        }
    }

    /// Delay every chunk by `latency`, each way (zero: none).
    pub fn set_latency(&self, latency: Duration) {
        self.shared.latency_micros.store(latency.as_micros() as u64, Ordering::Relaxed);
    }

    /// Forward at most `bytes_per_second` each way per connection (`None`: unlimited).
    pub fn set_bandwidth(&self, bytes_per_second: Option<u64>) {
        self.shared.bytes_per_second.store(bytes_per_second.unwrap_or(0), Ordering::Relaxed);
    }

    /// Stall (`true`): connections are accepted, nothing is forwarded either way
    /// until the stall ends (`false`), as over a network that silently drops packets.
    pub fn set_stalled(&self, stalled: bool) {
        self.shared.stalled.send_replace(stalled);
    }

    /// End every fault: no refusal, latency, throttle or stall (live connections stay).
    pub fn heal(&self) {
        if let Ok(mut until) = self.shared.refuse_until.lock() {
            *until = None;
        }
        self.set_latency(Duration::ZERO);
        self.set_bandwidth(None);
        self.set_stalled(false);
    }

    /// Wait (at most `limit`) until no connection is open: after a stall, so that what
    /// was held back is delivered and every connection ends cleanly. A socket closed
    /// with unread data resets its peer, and a reset reaching kinesis-local in the
    /// middle of a request took its listener down for every later test.
    pub async fn drain(&self, limit: Duration) {
        let deadline = Instant::now() + limit;
        while self.shared.live.load(Ordering::Relaxed) > 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Counts so far.
    pub fn stats(&self) -> ProxyStats {
        let s = &self.shared;
        ProxyStats {
            accepted: s.accepted.load(Ordering::Relaxed),
            refused: s.refused.load(Ordering::Relaxed),
            cut: s.cut.load(Ordering::Relaxed),
            silenced: s.silenced.load(Ordering::Relaxed),
            rewritten: s.rewritten.load(Ordering::Relaxed),
        }
    }

    /// Play `fault` for `duration` in the background, then heal; the report says
    /// what was done and when it ended.
    pub fn play(&self, fault: NetworkFault, duration: Duration, seed: u64) -> JoinHandle<FaultReport> {
        tokio::spawn(self.clone().play_here(fault, duration, seed))
    }

    /// [`FaultProxy::play`] in the calling task.
    pub(crate) async fn play_here(self, fault: NetworkFault, duration: Duration, seed: u64) -> FaultReport {
        schedule::play(self, fault, duration, seed).await
    }
}

impl Shared {
    fn refusing(&self) -> bool {
        self.refuse_until.lock().map(|until| until.is_some_and(|u| Instant::now() < u)).unwrap_or(false)
    }
}

/// `host:port` or a URL (`scheme://[user:pass@]host:port/rest`) split around its
/// host and port.
struct Endpoint<'a> {
    /// `scheme://user:pass@` (each part only if present).
    before_host: &'a str,
    host_port: &'a str,
    /// The path and query, if any.
    tail: &'a str,
}

impl<'a> Endpoint<'a> {
    fn split(endpoint: &'a str) -> Self {
        let rest_at = endpoint.find("://").map_or(0, |i| i + 3);
        let end = endpoint[rest_at..].find(['/', '?']).map_or(endpoint.len(), |i| rest_at + i);
        let host_at = endpoint[rest_at..end].rfind('@').map_or(rest_at, |i| rest_at + i + 1);
        Endpoint { before_host: &endpoint[..host_at], host_port: &endpoint[host_at..end], tail: &endpoint[end..] }
    }
}

/// The socket address of `endpoint` (`host:port` or a URL with an authority).
async fn resolve(endpoint: &str) -> Result<SocketAddr, TestkitError> {
    let host_port = Endpoint::split(endpoint).host_port;
    let mut addrs = tokio::net::lookup_host(host_port)
        .await
        .map_err(|e| TestkitError::Target(format!("fault proxy: cannot resolve {host_port:?} of {endpoint:?}: {e}")))?;
    addrs
        .find(SocketAddr::is_ipv4)
        .ok_or_else(|| TestkitError::Target(format!("fault proxy: no IPv4 address for {host_port:?}")))
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let Ok((client, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        if shared.refusing() {
            // Closing with zero linger sends a reset, as a refusal should.
            let _ = client.set_zero_linger();
            shared.refused.fetch_add(1, Ordering::Relaxed);
            drop(client);
            continue;
        }
        shared.accepted.fetch_add(1, Ordering::Relaxed);
        tokio::spawn(serve(client, shared.clone()));
    }
}

/// Forward one connection until either side closes or a cut comes.
async fn serve(client: TcpStream, shared: Arc<Shared>) {
    shared.live.fetch_add(1, Ordering::Relaxed);
    forward_until_cut(client, &shared).await;
    shared.live.fetch_sub(1, Ordering::Relaxed);
}

async fn forward_until_cut(mut client: TcpStream, shared: &Arc<Shared>) {
    let mut cuts = shared.cuts.subscribe();
    cuts.mark_unchanged();
    let mut silences = shared.silences.subscribe();
    silences.mark_unchanged();
    let Ok(mut server) = TcpStream::connect(shared.upstream).await else { return };
    let _ = server.set_nodelay(true);
    let _ = client.set_nodelay(true);
    let (client_read, client_write) = client.split();
    let (server_read, server_write) = server.split();
    let calls = kafka::Calls::default();
    let upstream = pipe::forward(client_read, server_write, shared.clone(), kafka::Direction::ToServer, calls.clone());
    let downstream = pipe::forward(server_read, client_write, shared.clone(), kafka::Direction::ToClient, calls);
    let ended = tokio::select! {
        _ = async { tokio::join!(upstream, downstream) } => Ended::Closed,
        _ = cuts.changed() => Ended::Cut,
        _ = silences.changed() => Ended::Silenced,
    };
    let cut = match ended {
        Ended::Closed => false,
        Ended::Cut => true,
        Ended::Silenced => {
            shared.silenced.fetch_add(1, Ordering::Relaxed);
            swallow_until_closed(&mut client, &mut server, &mut cuts).await
        }
    };
    // A cut resets the client's connection; the server's is closed plainly, as a
    // server sees a connection whose client went away. (Resets reaching
    // kinesis-local took its HTTP listener down for every later test.) Dropped with
    // unread data a socket resets its peer, and pulsar-lite keeps the consumers of a
    // reset connection: in the Pulsar mode the server's side is half-closed and read
    // to its end (for up to 5 s) in the background.
    if cut {
        shared.cut.fetch_add(1, Ordering::Relaxed);
        let _ = client.set_zero_linger();
        if matches!(shared.framing, Framing::Pulsar(..)) {
            tokio::spawn(close_plainly(server));
        }
    }
}

/// Half-close `server` and read it to its end (for up to 5 s) before dropping it, so
/// that it sees an orderly close, not a reset.
async fn close_plainly(mut server: TcpStream) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let _ = server.shutdown().await;
    let mut unread = vec![0u8; 16 * 1024];
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        while matches!(server.read(&mut unread).await, Ok(n) if n > 0) {}
    })
    .await;
}

/// How forwarding a connection ended.
enum Ended {
    /// Either side closed it.
    Closed,
    Cut,
    Silenced,
}

/// A silenced connection: read and drop what either side sends until the client
/// closes the connection (`false`) or a cut comes (`true`). The server's side is then
/// half-closed and read to its end (for up to 5 s) before it is dropped: a socket
/// dropped with unread data resets its peer (see [`FaultProxy::drain`]).
async fn swallow_until_closed(client: &mut TcpStream, server: &mut TcpStream, cuts: &mut watch::Receiver<u64>) -> bool {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (mut from_client, mut from_server) = (vec![0u8; 16 * 1024], vec![0u8; 16 * 1024]);
    let mut server_open = true;
    let cut = loop {
        tokio::select! {
            read = client.read(&mut from_client) => if !matches!(read, Ok(n) if n > 0) { break false },
            read = server.read(&mut from_server), if server_open => server_open = matches!(read, Ok(n) if n > 0),
            _ = cuts.changed() => break true,
        }
    };
    if server_open {
        let _ = server.shutdown().await;
        let _ = tokio::time::timeout(Duration::from_secs(5), async {
            while matches!(server.read(&mut from_server).await, Ok(n) if n > 0) {}
        })
        .await;
    }
    cut
}

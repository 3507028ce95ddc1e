//! The fault proxy against a local echo server: forwarding, cuts, refusal, latency,
//! throttling, stalls, silenced connections, a played schedule that heals, and endpoint rewriting.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use connector_testkit::proxy::{FaultProxy, NetworkFault};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

async fn echo_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (mut r, mut w) = socket.split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
            });
        }
    });
    addr
}

async fn round_trip(stream: &mut TcpStream, bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    stream.write_all(bytes).await?;
    let mut back = vec![0; bytes.len()];
    stream.read_exact(&mut back).await?;
    Ok(back)
}

#[tokio::test]
async fn forwards_then_cuts_refuses_and_recovers() {
    let proxy = FaultProxy::start(echo_server().await).await.unwrap();
    let mut conn = TcpStream::connect(proxy.addr()).await.unwrap();
    assert_eq!(round_trip(&mut conn, b"hello").await.unwrap(), b"hello");

    proxy.cut_all();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let after_cut = round_trip(&mut conn, b"again").await;
    assert!(after_cut.is_err(), "a cut connection must fail, got {after_cut:?}");

    proxy.refuse_for(Duration::from_millis(400));
    let mut refused = TcpStream::connect(proxy.addr()).await.unwrap();
    assert!(round_trip(&mut refused, b"x").await.is_err(), "a connection while refusing is reset");

    tokio::time::sleep(Duration::from_millis(450)).await;
    let mut fresh = TcpStream::connect(proxy.addr()).await.unwrap();
    assert_eq!(round_trip(&mut fresh, b"back").await.unwrap(), b"back");
    let stats = proxy.stats();
    assert_eq!((stats.accepted, stats.refused, stats.cut), (2, 1, 1), "{stats:?}");
}

#[tokio::test]
async fn a_silenced_connection_answers_nothing_and_stays_open_while_new_ones_work() {
    let proxy = FaultProxy::start(echo_server().await).await.unwrap();
    let mut old = TcpStream::connect(proxy.addr()).await.unwrap();
    assert_eq!(round_trip(&mut old, b"hello").await.unwrap(), b"hello");

    proxy.silence_live();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let silent = tokio::time::timeout(Duration::from_millis(500), round_trip(&mut old, b"anyone?")).await;
    assert!(silent.is_err(), "a silenced connection neither answers nor closes: {silent:?}");
    let mut fresh = TcpStream::connect(proxy.addr()).await.unwrap();
    assert_eq!(round_trip(&mut fresh, b"new").await.unwrap(), b"new");

    // It ends when its client closes it.
    drop(old);
    drop(fresh);
    proxy.drain(Duration::from_secs(2)).await;
    let stats = proxy.stats();
    assert_eq!((stats.accepted, stats.silenced, stats.cut), (2, 1, 0), "{stats:?}");
}

#[tokio::test]
async fn latency_throttle_and_stall_delay_without_losing_bytes() {
    let proxy = FaultProxy::start(echo_server().await).await.unwrap();
    let mut conn = TcpStream::connect(proxy.addr()).await.unwrap();

    proxy.set_latency(Duration::from_millis(100));
    let started = Instant::now();
    round_trip(&mut conn, b"slow").await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(200), "100 ms each way: {:?}", started.elapsed());
    proxy.set_latency(Duration::ZERO);

    proxy.set_bandwidth(Some(100_000));
    let payload = vec![7u8; 50_000];
    let started = Instant::now();
    assert_eq!(round_trip(&mut conn, &payload).await.unwrap(), payload);
    assert!(started.elapsed() >= Duration::from_millis(450), "50 kB at 100 kB/s: {:?}", started.elapsed());
    proxy.set_bandwidth(None);

    proxy.set_stalled(true);
    let pending = tokio::time::timeout(Duration::from_millis(300), round_trip(&mut conn, b"held")).await;
    assert!(pending.is_err(), "nothing passes a stall");
    proxy.set_stalled(false);
    let mut rest = [0u8; 4];
    conn.read_exact(&mut rest).await.unwrap();
    assert_eq!(&rest, b"held", "a stall holds bytes back and then delivers them");
}

#[tokio::test]
async fn a_played_schedule_cuts_on_time_and_heals() {
    let proxy = FaultProxy::start(echo_server().await).await.unwrap();
    let fault = NetworkFault::Cuts {
        every: Duration::from_millis(100)..Duration::from_millis(200),
        refuse: Duration::from_millis(20)..Duration::from_millis(50),
    };
    let started = Instant::now();
    let report = proxy.play(fault, Duration::from_secs(1), 7).await.unwrap();
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert!((4..=10).contains(&report.events), "{report:?}");
    let mut conn = TcpStream::connect(proxy.addr()).await.unwrap();
    assert_eq!(round_trip(&mut conn, b"healed").await.unwrap(), b"healed");
}

#[tokio::test]
async fn endpoints_point_at_the_proxy() {
    let proxy = FaultProxy::start(echo_server().await).await.unwrap();
    let at = proxy.addr();
    assert_eq!(proxy.endpoint_for("redis://127.0.0.1:6379/0"), format!("redis://{at}/0"));
    assert_eq!(proxy.endpoint_for("amqp://guest:pw@127.0.0.1:5672/%2f"), format!("amqp://guest:pw@{at}/%2f"));
    assert_eq!(proxy.endpoint_for("http://localhost:4566"), format!("http://{at}"));
    assert_eq!(proxy.endpoint_for("127.0.0.1:9092"), at.to_string());
    let via = FaultProxy::for_endpoint(&format!("redis://{at}/0")).await.unwrap();
    let mut conn = TcpStream::connect(via.addr()).await.unwrap();
    assert_eq!(round_trip(&mut conn, b"two hops").await.unwrap(), b"two hops");
}

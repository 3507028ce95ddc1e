//! Redis is restarted in the middle of a run, on a private redis-server with its own
//! port and directory (so that tests sharing the common server are not disturbed),
//! with the append-only file fsynced on every write (`--appendfsync always`): what the
//! server acknowledged survives the restart. The exactly-once sink (SET), the
//! at-least-once sink (RPUSH) and the exactly-once source keep their guarantee.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use connector_base::DeliveryGuarantee;
use connector_testkit::{RestartHook, SuiteConfig, probe, run_sink_suite, run_source_suite};

/// A redis-server of this test alone.
struct PrivateRedis {
    dir: tempfile::TempDir,
    port: u16,
    child: Option<Child>,
}

impl PrivateRedis {
    /// Started, or `None` when the shared server is not there either (skip).
    async fn start() -> Option<Arc<Mutex<PrivateRedis>>> {
        common::server().await?;
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut redis = PrivateRedis { dir: tempfile::tempdir().unwrap(), port, child: None };
        redis.run();
        Some(Arc::new(Mutex::new(redis)))
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn run(&mut self) {
        let dir = self.dir.path().display().to_string();
        let port = self.port.to_string();
        let args = [
            "--bind",
            "127.0.0.1",
            "--port",
            &port,
            "--dir",
            &dir,
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
            "--save",
            "",
            "--daemonize",
            "no",
        ];
        let child = Command::new("redis-server")
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server must be installed (cargo xtask services up redis)");
        self.child = Some(child);
        let started = Instant::now();
        while probe::redis(&format!("127.0.0.1:{}", self.port)).is_err() {
            assert!(started.elapsed() < Duration::from_secs(20), "private redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
            let started = Instant::now();
            while child.try_wait().ok().flatten().is_none() && started.elapsed() < Duration::from_secs(20) {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

fn restart_hook(redis: &Arc<Mutex<PrivateRedis>>) -> RestartHook {
    let redis = redis.clone();
    Arc::new(move || {
        let redis = redis.clone();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                let mut r = redis.lock().unwrap();
                r.stop();
                std::thread::sleep(Duration::from_millis(300)); // down for a moment
                r.run();
            })
            .await
            .unwrap();
            eprintln!("private redis-server restarted");
            Ok(())
        })
    })
}

async fn sink_survives_a_server_restart(write: common::Write, guarantee: DeliveryGuarantee) {
    let Some(redis) = PrivateRedis::start().await else { return };
    let target = common::Written::at(redis.lock().unwrap().url(), write);
    let config = SuiteConfig {
        crashes: 1,
        records_per_second: 5_000.0,
        checkpoint_interval: Duration::from_millis(100),
        restart_server: Some(restart_hook(&redis)),
        ..SuiteConfig::default()
    };
    let verdict = run_sink_suite(target, config).await.unwrap();
    verdict.check(guarantee).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exactly_once_set_sink_survives_a_server_restart() {
    sink_survives_a_server_restart(common::Write::Set, DeliveryGuarantee::ExactlyOnce).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_least_once_rpush_sink_survives_a_server_restart() {
    sink_survives_a_server_restart(common::Write::RPush, DeliveryGuarantee::AtLeastOnce).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn source_survives_a_server_restart() {
    let Some(redis) = PrivateRedis::start().await else { return };
    let streams = common::Streams::at(redis.lock().unwrap().url(), "restart", false);
    // Small reads, so that reading lasts past the moment of the restart.
    let target = Arc::new(common::Streams { batch_size: 5, ..Arc::into_inner(streams).unwrap() });
    let config = SuiteConfig {
        crashes: 1,
        records: 10_000,
        restart_server: Some(restart_hook(&redis)),
        ..SuiteConfig::default()
    };
    let verdict = run_source_suite(target, config).await.unwrap();
    verdict.check(DeliveryGuarantee::ExactlyOnce).unwrap();
}

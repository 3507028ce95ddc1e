//! RabbitMQ is restarted (cleanly) in the middle of a run, on a private node of this
//! test (its own name, ports and data directory, so that tests on the shared broker
//! are not disturbed): the sink (at-least-once) and the source (at-least-once and
//! exactly-once) keep their guarantee. Queues are durable and messages persistent,
//! so what the broker confirmed survives the restart.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use connector_base::DeliveryGuarantee;
use connector_testkit::{PrivateServer, SuiteConfig, free_port, probe, run_sink_suite, run_unbounded_source_suite};

/// The command running node `rabbit-<port>@localhost` on `port`, as the `rabbitmq`
/// user (the Debian wrapper switches to it), with its data in `dir`.
fn rabbitmq(port: u16, dist_port: u16, dir: &std::path::Path) -> Result<Command, String> {
    for sub in ["mnesia", "log"] {
        std::fs::create_dir_all(dir.join(sub)).map_err(|e| e.to_string())?;
    }
    let conf = format!("listeners.tcp.default = 127.0.0.1:{port}\nloopback_users = none\n");
    std::fs::write(dir.join("rabbitmq.conf"), conf).map_err(|e| e.to_string())?;
    let owned = Command::new("chown").args(["-R", "rabbitmq:", &dir.display().to_string()]).status();
    if !owned.is_ok_and(|s| s.success()) {
        return Err("chown to the rabbitmq user failed".into());
    }
    let d = |sub: &str| dir.join(sub).display().to_string();
    let mut command = Command::new("rabbitmq-server");
    command
        .env("RABBITMQ_NODENAME", format!("rabbit-{port}@localhost"))
        .env("RABBITMQ_NODE_IP_ADDRESS", "127.0.0.1")
        .env("RABBITMQ_NODE_PORT", port.to_string())
        .env("RABBITMQ_DIST_PORT", dist_port.to_string())
        .env("ERL_EPMD_ADDRESS", "127.0.0.1")
        .env("RABBITMQ_MNESIA_BASE", d("mnesia"))
        .env("RABBITMQ_LOG_BASE", d("log"))
        .env("RABBITMQ_CONFIG_FILE", d("rabbitmq"))
        .env("RABBITMQ_ENABLED_PLUGINS_FILE", d("enabled_plugins"))
        .env("RABBITMQ_PID_FILE", d("rabbit.pid"))
        .env("HOME", dir.display().to_string())
        .env("RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS", "-kernel inet_dist_use_interface {127,0,0,1}");
    Ok(command)
}

/// A private node, or `None` when the shared broker is not there either (skip).
async fn private_broker() -> Option<(Arc<Mutex<PrivateServer>>, String)> {
    common::server().await?;
    let dist_port = free_port().unwrap();
    let make = move |port, dir: &std::path::Path| rabbitmq(port, dist_port, dir);
    let broker = tokio::task::spawn_blocking(move || {
        PrivateServer::start_command("rabbitmq-server", make, probe::amqp, Some("rabbit.pid"))
    })
    .await
    .unwrap()
    .unwrap();
    let url = format!("amqp://guest:guest@127.0.0.1:{}/%2f", broker.lock().unwrap().port());
    Some((broker, url))
}

fn config(broker: &Arc<Mutex<PrivateServer>>) -> SuiteConfig {
    SuiteConfig {
        crashes: 1,
        records: 3_000,
        records_per_second: 1_000.0,
        restart_server: Some(PrivateServer::restart_hook(broker, Duration::ZERO)),
        idle_stall: Duration::from_secs(20),
        ..SuiteConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sink_and_sources_survive_a_broker_restart() {
    let Some((broker, url)) = private_broker().await else { return };
    let out = common::OutQueue::at(url.clone(), "restart-sink").await;
    let verdict = run_sink_suite(out, config(&broker)).await.unwrap();
    verdict.check(DeliveryGuarantee::AtLeastOnce).unwrap();

    let input = common::InQueue::at(url.clone(), "restart-alo", DeliveryGuarantee::AtLeastOnce).await;
    let verdict = run_unbounded_source_suite(input, config(&broker)).await.unwrap();
    verdict.check(DeliveryGuarantee::AtLeastOnce).unwrap();

    let input = common::InQueue::at(url, "restart-eos", DeliveryGuarantee::ExactlyOnce).await;
    let verdict = run_unbounded_source_suite(input, SuiteConfig { parallelism: 1, ..config(&broker) }).await.unwrap();
    verdict.check(DeliveryGuarantee::ExactlyOnce).unwrap();
}

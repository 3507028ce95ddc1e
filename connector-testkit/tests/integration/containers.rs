//! The container path of test-server discovery: a shared server outlives the handles
//! that found it and is found again by every process of one test binary, and another
//! test binary running at the same time gets a server of its own that does not see
//! the first one's data; a shared server too busy to answer at once is waited for, not
//! replaced by a second one. Redis stands for every server (they share the mechanism).
//! Runs where discovery takes the container path (no `REDIS_URL`, no services file,
//! a Docker engine answering); elsewhere it says it skipped.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use connector_testkit::containers::{RUNNER_PID, engine_answers};
use connector_testkit::discovery::{read_services_file, services_file};
use connector_testkit::docker;
use connector_testkit::probe::host_port;
use connector_testkit::{TestServer, servers};

/// One Redis command (RESP), its raw reply.
fn redis(address: &str, args: &[&str]) -> String {
    let mut s = TcpStream::connect(address).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut request = format!("*{}\r\n", args.len());
    for arg in args {
        request.push_str(&format!("${}\r\n{arg}\r\n", arg.len()));
    }
    s.write_all(request.as_bytes()).unwrap();
    let mut reply = [0u8; 512];
    let n = s.read(&mut reply).unwrap();
    String::from_utf8_lossy(&reply[..n]).into_owned()
}

fn on_the_container_path() -> bool {
    let in_file = services_file().is_some_and(|f| read_services_file(&f).iter().any(|(k, _)| k == "REDIS_URL"));
    let path = std::env::var("REDIS_URL").is_err() && !in_file && engine_answers();
    if !path {
        eprintln!(
            "\n*** SKIPPED: discovery does not take the container path here (REDIS_URL, a services file, or no Docker engine). ***\n"
        );
    }
    path
}

/// Run `binary`'s helper test `child_reports_what_it_finds` as one more test process
/// of the same test run, and return its report: `endpoint=... seen=...`.
fn child(binary: &std::path::Path, key: &str, write: &str) -> String {
    let runner = std::env::var(RUNNER_PID).unwrap_or_else(|_| std::os::unix::process::parent_id().to_string());
    let out = Command::new(binary)
        .args(["child_reports_what_it_finds", "--ignored", "--nocapture", "--test-threads", "1"])
        .env(RUNNER_PID, runner)
        .env("CONTAINERS_TEST_KEY", key)
        .env("CONTAINERS_TEST_WRITE", write)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    // libtest prints `test NAME ... ` before the test's own output, on the same line.
    stdout.lines().find_map(|l| l.find("endpoint=").map(|at| l[at..].to_string())).unwrap_or_default()
}

/// The helper: discover Redis, read `CONTAINERS_TEST_KEY`, write `CONTAINERS_TEST_WRITE`.
#[tokio::test]
#[ignore = "run as a child process by a_shared_server_serves_one_binary_for_the_whole_run"]
async fn child_reports_what_it_finds() {
    let server = TestServer::discover(&servers::REDIS).await.unwrap().unwrap();
    let address = host_port(&server.endpoint);
    let key = std::env::var("CONTAINERS_TEST_KEY").unwrap();
    let seen = redis(&address, &["GET", &key]);
    let write = std::env::var("CONTAINERS_TEST_WRITE").unwrap();
    assert!(redis(&address, &["SET", &write, "child"]).starts_with("+OK"));
    println!("endpoint={} seen={}", server.endpoint, seen.replace("\r\n", " ").trim());
}

#[tokio::test]
async fn a_shared_server_serves_one_binary_for_the_whole_run() {
    if !on_the_container_path() {
        return;
    }
    let key = format!("containers-test-{}-{}", std::process::id(), fastrand::u32(..));
    let first = TestServer::discover(&servers::REDIS).await.unwrap().unwrap();
    assert!(first.in_container(), "{}", first.origin);
    let endpoint = first.endpoint.clone();
    let address = host_port(&endpoint);
    assert!(redis(&address, &["SET", &key, "parent"]).starts_with("+OK"));
    // Every handle of this process is gone: the server must still be there (dropping
    // testcontainers' handle removed the container in the code before this testkit).
    drop(first);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let again = TestServer::discover(&servers::REDIS).await.unwrap().unwrap();
    assert_eq!(again.endpoint, endpoint, "the same server is found again");
    assert!(redis(&address, &["GET", &key]).contains("parent"));

    // Another process of this test binary in this run finds the same server.
    let this_binary = std::env::current_exe().unwrap();
    let report = child(&this_binary, &key, &format!("{key}-same-binary"));
    assert!(report.starts_with(&format!("endpoint={endpoint} ")), "{report}");
    assert!(report.ends_with("parent"), "sees this process's data: {report}");

    // Another test binary at the same time gets a server of its own.
    let copy_dir = tempfile::tempdir().unwrap();
    let other_binary = copy_dir.path().join("other-test-binary");
    std::fs::copy(&this_binary, &other_binary).unwrap();
    let report = child(&other_binary, &key, &format!("{key}-other-binary"));
    let other_endpoint = report.split(' ').next().unwrap_or_default().trim_start_matches("endpoint=").to_string();
    assert!(!other_endpoint.is_empty() && other_endpoint != endpoint, "{report}");
    assert!(report.ends_with("seen=$-1"), "the other binary's server does not see this one's key: {report}");
    assert!(redis(&address, &["GET", &format!("{key}-other-binary")]).starts_with("$-1"), "nor this one its key");
    assert!(redis(&address, &["GET", &format!("{key}-same-binary")]).contains("child"));
}

/// Pause or unpause the container `name` (its server then takes connections but
/// answers nothing, as a server too busy to answer a probe in time).
fn set_paused(name: &str, paused: bool) {
    let verb = if paused { "pause" } else { "unpause" };
    let (status, body) = docker::call(&docker::socket(), "POST", &format!("/containers/{name}/{verb}")).unwrap();
    assert_eq!(status, 204, "{verb} {name}: {body}");
}

#[tokio::test]
async fn a_shared_server_that_answers_late_is_waited_for_not_replaced() {
    if !on_the_container_path() {
        return;
    }
    let first = TestServer::discover(&servers::REDIS).await.unwrap().unwrap();
    let name = first.container.clone().expect("a container");
    assert!(docker::container_running(&docker::socket(), &name).unwrap());
    set_paused(&name, true);
    let unpause = {
        let name = name.clone();
        tokio::spawn(async move {
            // Longer than a probe waits for an answer (2 s).
            tokio::time::sleep(Duration::from_secs(4)).await;
            set_paused(&name, false);
        })
    };
    let started = std::time::Instant::now();
    let again = TestServer::discover(&servers::REDIS).await;
    unpause.await.unwrap();
    let again = again.unwrap().unwrap();
    assert_eq!(again.endpoint, first.endpoint, "the busy server is found again, not replaced ({})", again.origin);
    assert_eq!(again.container.as_deref(), Some(name.as_str()));
    assert!(started.elapsed() >= Duration::from_secs(3), "it was waited for: {:?}", started.elapsed());
    assert!(redis(&host_port(&again.endpoint), &["PING"]).starts_with("+PONG"));
    assert!(!docker::container_running(&docker::socket(), "flink-connectors-rs-no-such-container").unwrap());
}

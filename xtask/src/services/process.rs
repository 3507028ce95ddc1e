//! Starting detached processes and stopping them by PID.

use std::fs::File;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::XtaskError;

/// Start `program args` in its own session (so a Ctrl-C at the terminal does not
/// reach it) with output to `log`; returns its PID.
pub fn spawn_detached(program: &str, args: &[&str], envs: &[(&str, String)], log: &Path) -> Result<u32, XtaskError> {
    let out = File::create(log).map_err(|e| XtaskError::io(log, e))?;
    let err = out.try_clone().map_err(|e| XtaskError::io(log, e))?;
    let child = Command::new("setsid")
        .arg(program)
        .args(args)
        .envs(envs.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .map_err(|source| XtaskError::Spawn { command: program.into(), source })?;
    Ok(child.id())
}

pub fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
        && std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| !s.rsplit_once(')').is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')))
            .unwrap_or(false)
}

fn signal(pid: u32, sig: &str) {
    let _ = Command::new("kill").args([sig, &pid.to_string()]).stderr(Stdio::null()).status();
}

/// SIGTERM, then SIGKILL if it is still there after 10 s.
pub fn stop(pid: u32) {
    if !alive(pid) {
        return;
    }
    signal(pid, "-TERM");
    let deadline = Instant::now() + Duration::from_secs(10);
    while alive(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    if alive(pid) {
        signal(pid, "-KILL");
    }
}

/// PIDs of processes named exactly `name`.
pub fn pids_named(name: &str) -> Vec<u32> {
    let Ok(out) = Command::new("pgrep").args(["-x", name]).output() else { return Vec::new() };
    String::from_utf8_lossy(&out.stdout).lines().filter_map(|l| l.trim().parse().ok()).collect()
}

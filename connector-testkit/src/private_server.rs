//! A server process of one test alone (its own port and data directory), for tests
//! that restart the server mid-run without disturbing tests sharing the common one.

use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::TestkitError;
use crate::suites::RestartHook;

/// How long a start or a clean stop may take.
const PATIENCE: Duration = Duration::from_secs(20);

/// A private server: `program args...` listening on `127.0.0.1:port`, checked by a
/// probe, stopped cleanly with SIGTERM (servers save their data then) on restart and drop.
pub struct PrivateServer {
    program: String,
    args: Vec<String>,
    port: u16,
    probe: fn(&str) -> Result<(), String>,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl PrivateServer {
    /// Start `program` with the arguments `args(port, data_dir)` builds (a free port,
    /// a fresh directory) and wait until `probe("127.0.0.1:<port>")` answers.
    pub fn start(
        program: &str,
        args: impl Fn(u16, &str) -> Vec<String>,
        probe: fn(&str) -> Result<(), String>,
    ) -> Result<Arc<Mutex<PrivateServer>>, TestkitError> {
        let failed =
            |what: &str, e: &dyn std::fmt::Display| TestkitError::Target(format!("private {program}: {what}: {e}"));
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| failed("no free port on 127.0.0.1", &e))?
            .port();
        let dir = tempfile::tempdir().map_err(|e| failed("temporary directory", &e))?;
        let args = args(port, &dir.path().display().to_string());
        let mut server = PrivateServer { program: program.to_string(), args, port, probe, dir, child: None };
        server.run()?;
        Ok(Arc::new(Mutex::new(server)))
    }

    /// The port it listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Its data directory.
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    fn run(&mut self) -> Result<(), TestkitError> {
        let child =
            Command::new(&self.program).args(&self.args).stdout(Stdio::null()).stderr(Stdio::null()).spawn().map_err(
                |e| TestkitError::Target(format!("{} must be installed (cargo xtask services up): {e}", self.program)),
            )?;
        self.child = Some(child);
        let address = format!("127.0.0.1:{}", self.port);
        let started = Instant::now();
        while let Err(e) = (self.probe)(&address) {
            if started.elapsed() > PATIENCE {
                return Err(TestkitError::Target(format!("private {} did not start at {address}: {e}", self.program)));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }

    /// SIGTERM, then wait for the exit (SIGKILL after the patience runs out).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
            let started = Instant::now();
            while child.try_wait().ok().flatten().is_none() && started.elapsed() < PATIENCE {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stop, stay down for `down`, start again on the same port and directory.
    pub fn restart(&mut self, down: Duration) -> Result<(), TestkitError> {
        self.stop();
        std::thread::sleep(down);
        self.run()
    }

    /// A suite hook restarting `server` (down for `down`).
    pub fn restart_hook(server: &Arc<Mutex<PrivateServer>>, down: Duration) -> RestartHook {
        let server = server.clone();
        Arc::new(move || {
            let server = server.clone();
            Box::pin(async move {
                tokio::task::spawn_blocking(move || match server.lock() {
                    Ok(mut s) => s.restart(down),
                    Err(poisoned) => poisoned.into_inner().restart(down),
                })
                .await
                .map_err(|e| TestkitError::Target(format!("restarting the private server: {e}")))??;
                eprintln!("private server restarted");
                Ok(())
            })
        })
    }
}

impl Drop for PrivateServer {
    fn drop(&mut self) {
        self.stop();
    }
}

//! A server process of one test alone (its own port and data directory), for tests
//! that restart the server mid-run without disturbing tests sharing the common one.

use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use test_servers::process::{self, free_port};

use crate::TestkitError;
use crate::suites::RestartHook;

/// How long a start or a clean stop may take.
const PATIENCE: Duration = Duration::from_secs(60);

/// Builds the command that runs the server on a port with a data directory.
type MakeCommand = Box<dyn Fn(u16, &std::path::Path) -> Result<Command, String> + Send>;

/// A private server listening on `127.0.0.1:port`, checked by a probe, stopped
/// cleanly with SIGTERM (servers save their data then) on restart and drop.
pub struct PrivateServer {
    name: String,
    make: MakeCommand,
    port: u16,
    probe: fn(&str) -> Result<(), String>,
    /// A file in the data directory holding the server's PID, when the spawned
    /// process is a wrapper that does not receive signals for the server.
    pid_file: Option<String>,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl PrivateServer {
    /// Start `program` with the arguments `args(port, data_dir)` builds (a free port,
    /// a fresh directory) and wait until `probe("127.0.0.1:<port>")` answers.
    pub fn start(
        program: &str,
        args: impl Fn(u16, &str) -> Vec<String> + Send + 'static,
        probe: fn(&str) -> Result<(), String>,
    ) -> Result<Arc<Mutex<PrivateServer>>, TestkitError> {
        let name = program.to_string();
        let make = move |port: u16, dir: &std::path::Path| {
            let mut command = Command::new(&name);
            command.args(args(port, &dir.display().to_string()));
            Ok(command)
        };
        PrivateServer::start_command(program, make, probe, None)
    }

    /// Start the command `make(port, data_dir)` builds (it may prepare the directory
    /// first); with `pid_file`, stop the PID written to that file in the directory.
    pub fn start_command(
        name: &str,
        make: impl Fn(u16, &std::path::Path) -> Result<Command, String> + Send + 'static,
        probe: fn(&str) -> Result<(), String>,
        pid_file: Option<&str>,
    ) -> Result<Arc<Mutex<PrivateServer>>, TestkitError> {
        let failed =
            |what: &str, e: &dyn std::fmt::Display| TestkitError::Target(format!("private {name}: {what}: {e}"));
        let port = free_port().map_err(|e| failed("no free port on 127.0.0.1", &e))?;
        let dir = tempfile::tempdir().map_err(|e| failed("temporary directory", &e))?;
        let mut server = PrivateServer {
            name: name.to_string(),
            make: Box::new(make),
            port,
            probe,
            pid_file: pid_file.map(str::to_string),
            dir,
            child: None,
        };
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
        let name = self.name.clone();
        let mut command = (self.make)(self.port, self.dir.path())
            .map_err(|e| TestkitError::Target(format!("private {name}: preparing: {e}")))?;
        let child =
            command.stdout(Stdio::null()).stderr(Stdio::null()).spawn().map_err(|e| {
                TestkitError::Target(format!("{name} must be installed (cargo xtask services up): {e}"))
            })?;
        self.child = Some(child);
        let address = format!("127.0.0.1:{}", self.port);
        let started = Instant::now();
        while let Err(e) = (self.probe)(&address) {
            if started.elapsed() > PATIENCE {
                return Err(TestkitError::Target(format!("private {name} did not start at {address}: {e}")));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }

    /// SIGTERM (to the PID in the PID file, if any, and to the spawned process),
    /// then wait for the exit (SIGKILL after the patience runs out).
    pub fn stop(&mut self) {
        let pid = self
            .pid_file
            .as_ref()
            .and_then(|f| std::fs::read_to_string(self.dir.path().join(f)).ok())
            .and_then(|s| s.trim().parse::<u32>().ok());
        if let Some(pid) = pid {
            process::stop(pid, PATIENCE);
        }
        if let Some(mut child) = self.child.take() {
            process::stop_child(&mut child, PATIENCE);
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

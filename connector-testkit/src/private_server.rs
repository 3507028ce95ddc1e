//! A server of one test alone (its own ports and data), for tests that restart the
//! server mid-run without disturbing the tests sharing the common one. It runs where
//! the shared server runs: in a container when that one does (restarted by stopping
//! and starting its container), else as a host process with the binaries
//! `cargo xtask services` installed (restarted by stopping and starting the process).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use test_servers::probe::host_port;
use test_servers::process;
use testcontainers::core::ExecCommand;
use testcontainers::{ContainerAsync, GenericImage};
use tokio::sync::Mutex;

use crate::TestkitError;
use crate::containers::{self, Request};
use crate::launch::{Launch, Mode};
use crate::server::{Server, TestServer};
use crate::suites::RestartHook;

/// How long a start or a clean stop may take.
const PATIENCE: Duration = Duration::from_secs(60);

enum Backend {
    Process { launch: Launch, child: Option<Child> },
    Container(Box<ContainerAsync<GenericImage>>),
}

struct Inner {
    system: &'static str,
    endpoint: String,
    ports: Vec<u16>,
    probe: fn(&str) -> Result<(), String>,
    /// Its data directory on the host (mounted into a container at the same path).
    data: PathBuf,
    _temporary: tempfile::TempDir,
    backend: Mutex<Backend>,
}

/// A private server; clones share it. Stopped (its container removed) when the last
/// clone is dropped.
#[derive(Clone)]
pub struct PrivateServer {
    inner: Arc<Inner>,
}

fn failed(system: &str, what: &str, e: impl std::fmt::Display) -> TestkitError {
    TestkitError::Target(format!("private {system}: {what}: {e}"))
}

impl PrivateServer {
    /// A private `server` where `shared` (the test's shared server) runs, with `extra`
    /// arguments after the usual ones.
    pub async fn start(server: &TestServer, shared: &Server, extra: &[String]) -> Result<Self, TestkitError> {
        PrivateServer::start_with_files(server, shared, extra, None).await
    }

    /// As [`PrivateServer::start`], for arguments that name host files: `files` (a
    /// directory) is mounted into a container at the same path, and is the server's
    /// data directory.
    pub async fn start_with_files(
        server: &TestServer,
        shared: &Server,
        extra: &[String],
        files: Option<&Path>,
    ) -> Result<Self, TestkitError> {
        let temporary = tempfile::tempdir().map_err(|e| failed(server.system, "temporary directory", e))?;
        let data: PathBuf = files.map(Path::to_path_buf).unwrap_or_else(|| temporary.path().to_path_buf());
        let (endpoint, ports, backend) = if shared.in_container() {
            let name = format!("flink-connectors-rs-private-{}-{}", std::process::id(), fastrand::u32(..));
            let mount = Some(data.clone());
            let request = Request { server, name, watch: std::process::id(), shared: false, mount, extra };
            let started = containers::start(request).await?;
            (started.endpoint, started.ports, Backend::Container(Box::new(started.container)))
        } else {
            let ports = containers::free_ports(server.ports)?;
            let launch = (server.launch)(Mode::Host, &ports, &data.display().to_string(), extra)
                .map_err(|e| failed(server.system, "launch", e))?;
            let endpoint = (server.endpoint)("127.0.0.1", ports[0]);
            (endpoint, ports, Backend::Process { launch, child: None })
        };
        let inner = Inner {
            system: server.system,
            endpoint,
            ports,
            probe: server.probe,
            data,
            _temporary: temporary,
            backend: Mutex::new(backend),
        };
        let private = PrivateServer { inner: Arc::new(inner) };
        if !shared.in_container() {
            // A container answers already: `containers::start` waited for it.
            private.run().await?;
        }
        Ok(private)
    }

    /// Where clients reach it.
    pub fn endpoint(&self) -> &str {
        &self.inner.endpoint
    }

    /// The port clients use (on 127.0.0.1).
    pub fn port(&self) -> u16 {
        self.inner.ports[0]
    }

    /// All its ports (the first is [`PrivateServer::port`]).
    pub fn ports(&self) -> &[u16] {
        &self.inner.ports
    }

    /// Start the process or the container, and wait until the server answers.
    async fn run(&self) -> Result<(), TestkitError> {
        let system = self.inner.system;
        {
            let mut backend = self.inner.backend.lock().await;
            match &mut *backend {
                Backend::Process { launch, child } => {
                    let mut command = Command::new(&launch.program);
                    command.args(&launch.args).envs(launch.env.iter().map(|(k, v)| (k, v)));
                    let spawned = command.stdout(Stdio::null()).stderr(Stdio::null()).spawn().map_err(|e| {
                        failed(system, &format!("{} must be installed (cargo xtask services up)", launch.program), e)
                    })?;
                    *child = Some(spawned);
                }
                Backend::Container(container) => {
                    tokio::time::timeout(PATIENCE, container.start())
                        .await
                        .map_err(|_| failed(system, "starting its container", format!("no answer in {PATIENCE:?}")))?
                        .map_err(|e| failed(system, "starting its container", e))?;
                }
            }
        }
        let address = host_port(&self.inner.endpoint);
        match containers::answers(self.inner.probe, &address, PATIENCE).await {
            Ok(()) => Ok(()),
            Err(e) => {
                Err(failed(system, &format!("did not answer at {address}"), format!("{e}{}", self.output().await)))
            }
        }
    }

    /// The end of a container's output, to tell why its server did not answer.
    async fn output(&self) -> String {
        let backend = self.inner.backend.lock().await;
        let Backend::Container(container) = &*backend else { return String::new() };
        format!("; its output:\n{}", containers::output_tail(container).await)
    }

    /// Stop it: SIGTERM to the process (and to the PID in its PID file, if any) or a
    /// stop of its container (SIGTERM, which the server gets, then SIGKILL), waiting
    /// for the end.
    pub async fn stop(&self) -> Result<(), TestkitError> {
        let mut backend = self.inner.backend.lock().await;
        match &mut *backend {
            Backend::Process { launch, child } => {
                let (launch, data, child) = (launch.clone(), self.inner.data.clone(), child.take());
                tokio::task::spawn_blocking(move || stop_process(&launch, &data, child))
                    .await
                    .map_err(|e| failed(self.inner.system, "stopping", e))
            }
            Backend::Container(container) => tokio::time::timeout(PATIENCE, container.stop())
                .await
                .map_err(|_| failed(self.inner.system, "stopping its container", format!("no answer in {PATIENCE:?}")))?
                .map_err(|e| failed(self.inner.system, "stopping its container", e)),
        }
    }

    /// Stop, stay down for `down`, start again on the same ports with the same data.
    pub async fn restart(&self, down: Duration) -> Result<(), TestkitError> {
        self.stop().await?;
        tokio::time::sleep(down).await;
        self.run().await
    }

    /// A suite hook restarting it (down for `down`).
    pub fn restart_hook(&self, down: Duration) -> RestartHook {
        let server = self.clone();
        Arc::new(move || {
            let server = server.clone();
            Box::pin(async move {
                server.restart(down).await?;
                eprintln!("private server restarted");
                Ok(())
            })
        })
    }

    /// Run `argv` next to the server (a client tool such as `redis-cli`): on the host,
    /// or in its container. Its standard output, or an error with what it printed.
    pub async fn run_tool(&self, argv: &[&str]) -> Result<String, TestkitError> {
        let system = self.inner.system;
        let backend = self.inner.backend.lock().await;
        match &*backend {
            Backend::Process { .. } => {
                let Some((program, args)) = argv.split_first() else { return Ok(String::new()) };
                let out = Command::new(program).args(args).output().map_err(|e| failed(system, program, e))?;
                if !out.status.success() {
                    return Err(failed(system, &argv.join(" "), String::from_utf8_lossy(&out.stderr)));
                }
                Ok(String::from_utf8_lossy(&out.stdout).into_owned())
            }
            Backend::Container(container) => {
                let mut result = container
                    .exec(ExecCommand::new(argv.iter().map(|a| a.to_string())))
                    .await
                    .map_err(|e| failed(system, &argv.join(" "), e))?;
                let stdout = result.stdout_to_vec().await.map_err(|e| failed(system, &argv.join(" "), e))?;
                match result.exit_code().await.map_err(|e| failed(system, &argv.join(" "), e))? {
                    Some(0) | None => Ok(String::from_utf8_lossy(&stdout).into_owned()),
                    Some(code) => {
                        let stderr = result.stderr_to_vec().await.unwrap_or_default();
                        Err(failed(
                            system,
                            &format!("{} exited {code}", argv.join(" ")),
                            String::from_utf8_lossy(&stderr),
                        ))
                    }
                }
            }
        }
    }
}

/// Stop a host server: the PID in its PID file (in `data`), the process spawned,
/// then its cleanup command.
fn stop_process(launch: &Launch, data: &Path, child: Option<Child>) {
    let pid = launch
        .pid_file
        .as_ref()
        .and_then(|f| std::fs::read_to_string(data.join(f)).ok())
        .and_then(|s| s.trim().parse::<u32>().ok());
    if let Some(pid) = pid {
        process::stop(pid, PATIENCE);
    }
    if let Some(mut child) = child {
        process::stop_child(&mut child, PATIENCE);
    }
    if let Some([program, args @ ..]) = launch.cleanup.as_deref() {
        let _ = Command::new(program).args(args).stdout(Stdio::null()).stderr(Stdio::null()).status();
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Backend::Process { launch, child } = self.backend.get_mut() {
            stop_process(launch, &self.data, child.take());
        }
        // A container is removed when its handle is dropped (testcontainers).
    }
}

//! Test servers in containers, through testcontainers: host networking (every server
//! stays on 127.0.0.1, on free ports the testkit chooses), the host's PID namespace
//! (the server watches the process whose life it shares), probed until it answers its
//! protocol.
//!
//! A **shared** server serves every test of one test binary in one test run: the
//! first test process to ask starts it, under a lock file, and records its endpoint;
//! later ones (nextest runs each test in a process of its own) find it there. It lives
//! as long as the test runner (the parent of the test processes: nextest or cargo) and
//! is then stopped and removed by the engine. Two test binaries get two servers.
//!
//! A **private** server (for a test that restarts its server) belongs to one test: it
//! is restarted by stopping and starting its container, and removed when dropped.

use std::fs::File;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use test_servers::docker;
use test_servers::probe::{self, host_port};
use test_servers::process::free_port;
use testcontainers::core::Mount;
use testcontainers::runners::AsyncRunner;
use testcontainers::{ContainerAsync, GenericImage, ImageExt, ReuseDirective};

use crate::error::TestkitError;
use crate::launch::{Mode, SERVE_WHILE};
use crate::server::{Server, TestServer};

/// The variable that chooses the images: `local` (built by `cargo xtask images`) or
/// `official`; by default the local image when the engine holds it.
pub const IMAGES: &str = "CONNECTOR_TEST_IMAGES";

/// The variable naming the process whose end ends the shared servers (default: the
/// parent of the test process, which is the test runner: nextest or cargo). A test
/// that runs more test processes itself passes it on to them.
pub const RUNNER_PID: &str = "CONNECTOR_TEST_RUNNER_PID";

/// How long a server may take to answer its protocol after its container started.
const READY_WITHIN: Duration = Duration::from_secs(180);

/// Whether a Docker engine answers where clients look for one.
pub fn engine_answers() -> bool {
    docker::ping(&docker::socket()).is_ok()
}

/// The image to run for `server` and how it is launched.
fn image_of(server: &TestServer) -> Result<(&'static str, Mode), TestkitError> {
    match std::env::var(IMAGES).as_deref() {
        Ok("official") => Ok((server.official_image, Mode::OfficialImage)),
        Ok("local") => Ok((server.local_image, Mode::LocalImage)),
        Ok(other) => Err(TestkitError::Target(format!("{IMAGES}={other}: give `local` or `official`"))),
        Err(_) => match docker::has_image(&docker::socket(), server.local_image) {
            Ok(true) => Ok((server.local_image, Mode::LocalImage)),
            _ => Ok((server.official_image, Mode::OfficialImage)),
        },
    }
}

fn container_error(image: &str, e: impl std::fmt::Display) -> TestkitError {
    TestkitError::Container { image: image.to_string(), message: e.to_string() }
}

/// Free ports on 127.0.0.1 for one server.
pub(crate) fn free_ports(n: usize) -> Result<Vec<u16>, TestkitError> {
    let mut ports: Vec<u16> = Vec::with_capacity(n);
    while ports.len() < n {
        let port = free_port().map_err(|e| TestkitError::Target(format!("no free port on 127.0.0.1: {e}")))?;
        if !ports.contains(&port) {
            ports.push(port);
        }
    }
    Ok(ports)
}

/// What a container to start is.
pub(crate) struct Request<'a> {
    pub server: &'a TestServer,
    pub name: String,
    /// The host process whose end stops the server.
    pub watch: u32,
    pub shared: bool,
    /// A host directory mounted at the same path (private servers whose arguments name
    /// host files).
    pub mount: Option<PathBuf>,
    pub extra: &'a [String],
}

/// A started container and where its server answers.
pub(crate) struct Started {
    pub container: ContainerAsync<GenericImage>,
    pub endpoint: String,
    pub ports: Vec<u16>,
    pub image: &'static str,
}

/// Start a container for `request` and wait until its server answers.
pub(crate) async fn start(request: Request<'_>) -> Result<Started, TestkitError> {
    let server = request.server;
    let (image, mode) = image_of(server)?;
    let ports = free_ports(server.ports)?;
    let dir = match &request.mount {
        Some(dir) => dir.display().to_string(),
        None => "/data".to_string(),
    };
    let launch = (server.launch)(mode, &ports, &dir, request.extra).map_err(|e| container_error(image, e))?;
    let mut cmd = vec!["-c".to_string(), SERVE_WHILE.to_string(), "serve-while".to_string(), request.watch.to_string()];
    cmd.extend(launch.argv());
    let (name, tag) = image.rsplit_once(':').unwrap_or((image, "latest"));
    let shared = request.shared;
    let mut container = GenericImage::new(name, tag)
        .with_entrypoint("sh")
        .with_cmd(cmd)
        .with_network("host")
        .with_container_name(&request.name)
        .with_label("org.flink-connectors-rs.server", server.service)
        .with_startup_timeout(READY_WITHIN)
        .with_host_config_modifier(move |config| {
            config.pid_mode = Some("host".into());
            // A shared server is removed by the engine when it ends with its test run.
            config.auto_remove = Some(shared);
        });
    if shared {
        // Not removed when this process's handle is dropped: it serves the whole binary.
        container = container.with_reuse(ReuseDirective::Always);
    }
    if let Some(dir) = &request.mount {
        let path = dir.display().to_string();
        container = container.with_mount(Mount::bind_mount(path.clone(), path));
    }
    let started = Instant::now();
    let container = container.start().await.map_err(|e| container_error(image, e))?;
    let endpoint = (server.endpoint)("127.0.0.1", ports[0]);
    let address = host_port(&endpoint);
    if let Err(e) = answers(server.probe, &address, READY_WITHIN).await {
        return Err(container_error(
            image,
            format!(
                "{} did not answer at {address} within {READY_WITHIN:?} ({e}); its output:\n{}",
                server.system,
                output_tail(&container).await
            ),
        ));
    }
    eprintln!(
        "started {} in container {} ({image}) at {} in {:.1} s",
        server.system,
        request.name,
        connector_base::redact_url(&endpoint),
        started.elapsed().as_secs_f64()
    );
    Ok(Started { container, endpoint, ports, image })
}

/// Probe `address` (on a blocking thread) until `probe` answers, for at most
/// `within`; the last failure when it never does.
pub(crate) async fn answers(
    probe: fn(&str) -> Result<(), String>,
    address: &str,
    within: Duration,
) -> Result<(), String> {
    let address = address.to_string();
    tokio::task::spawn_blocking(move || probe::wait_until(probe, &address, within))
        .await
        .unwrap_or_else(|e| Err(format!("the probe's thread failed: {e}")))
}

/// The last 20 lines of a container's standard output, then of its standard error.
pub(crate) async fn output_tail(container: &ContainerAsync<GenericImage>) -> String {
    let tail = |bytes: Vec<u8>| {
        let text = String::from_utf8_lossy(&bytes).into_owned();
        text.lines().rev().take(20).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n")
    };
    let out = container.stdout_to_vec().await.unwrap_or_default();
    let err = container.stderr_to_vec().await.unwrap_or_default();
    format!("{}\n{}", tail(out), tail(err))
}

/// The test binary's name (`guarantees-1a2b3c...`): one shared server per binary.
fn binary() -> String {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "tests".into())
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' })
        .collect()
}

/// Where shared servers are recorded: `<tmp>/flink-connectors-rs-servers`.
fn registry() -> PathBuf {
    std::env::temp_dir().join("flink-connectors-rs-servers")
}

/// The shared server of this test binary and test run for `server`, started when
/// none answers yet.
pub(crate) async fn shared(server: &TestServer) -> Result<Server, TestkitError> {
    let runner = std::env::var(RUNNER_PID)
        .ok()
        .and_then(|pid| pid.parse().ok())
        .unwrap_or_else(std::os::unix::process::parent_id);
    let key = format!("{runner}-{}-{}", binary(), server.service);
    let dir = registry();
    let (lock_path, record) = (dir.join(format!("{key}.lock")), dir.join(format!("{key}.endpoint")));
    let lock = tokio::task::spawn_blocking(move || -> Result<File, String> {
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let file = File::create(&lock_path).map_err(|e| format!("{}: {e}", lock_path.display()))?;
        file.lock().map_err(|e| format!("locking {}: {e}", lock_path.display()))?;
        Ok(file)
    })
    .await
    .map_err(|e| TestkitError::Target(e.to_string()))?
    .map_err(TestkitError::Target)?;
    let text = std::fs::read_to_string(&record).unwrap_or_default();
    if let Some((endpoint, name)) = parse_record(&text)
        && let Some(found) = recorded(server, endpoint, name).await?
    {
        drop(lock);
        return Ok(found);
    }
    let name = format!("flink-connectors-rs-{key}-{}", fastrand::u32(..));
    let started =
        start(Request { server, name: name.clone(), watch: runner, shared: true, mount: None, extra: &[] }).await?;
    std::fs::write(&record, format!("{}\n{name}\n", started.endpoint))
        .map_err(|e| TestkitError::Target(format!("{}: {e}", record.display())))?;
    drop(lock);
    Ok(Server::of_container(started.endpoint, format!("container {name} ({})", started.image), name))
}

/// A registry record: the endpoint, then the container's name, a line each.
fn parse_record(text: &str) -> Option<(&str, &str)> {
    let mut lines = text.lines().map(str::trim);
    match (lines.next(), lines.next()) {
        (Some(endpoint), Some(name)) if !endpoint.is_empty() && !name.is_empty() => Some((endpoint, name)),
        _ => None,
    }
}

/// The recorded shared server, when its container still runs: waited for while it
/// does not answer (a server busy with the other tests of the run is slow, not gone;
/// starting a second one would split the run's tests between two servers, and a test
/// that found each would write to one and read the other). `None` when it is gone.
async fn recorded(server: &TestServer, endpoint: &str, name: &str) -> Result<Option<Server>, TestkitError> {
    let engine = docker::socket();
    let running = docker::container_running(&engine, name).map_err(TestkitError::Target)?;
    if !running {
        return Ok(None);
    }
    let address = host_port(endpoint);
    answers(server.probe, &address, READY_WITHIN).await.map_err(|e| {
            TestkitError::Target(format!(
                "the shared {} of this run (container {name}) runs but did not answer at {address} within {READY_WITHIN:?}: {e}",
                server.system
            ))
        })?;
    let origin = format!("shared container {name} of {}", binary());
    Ok(Some(Server::of_container(endpoint.to_string(), origin, name.to_string())))
}

//! Test-server discovery. A system is reached through its endpoint variable (for
//! example `REDIS_URL`); if unset, through the file `cargo xtask services up` writes
//! (`.services/env` at the workspace root); if none, through testcontainers when a
//! Docker engine answers; otherwise the test is skipped with a loud message, except
//! with `CONNECTOR_TESTS_REQUIRE_SERVICES=1`, where a missing server is a failure.

use std::path::{Path, PathBuf};

use testcontainers::core::{IntoContainerPort, WaitFor};
use testcontainers::runners::AsyncRunner;
use testcontainers::{ContainerAsync, GenericImage};

use crate::error::TestkitError;

/// The variable that turns a missing server into a failure.
pub const REQUIRE_SERVICES: &str = "CONNECTOR_TESTS_REQUIRE_SERVICES";

/// How to find one kind of test server.
#[derive(Debug, Clone)]
pub struct TestServer {
    /// Name for people ("Redis").
    pub system: &'static str,
    /// Endpoint variable (`REDIS_URL`).
    pub variable: &'static str,
    /// `cargo xtask services` name (`redis`).
    pub service: &'static str,
    /// Official image and tag for testcontainers, with the port it listens on.
    pub image: (&'static str, &'static str, u16),
    /// A line the container prints when it is ready.
    pub ready_line: &'static str,
    /// Builds the endpoint from the container's host and mapped port.
    pub endpoint: fn(&str, u16) -> String,
}

enum Found {
    Endpoint(String, String),
    Nothing,
}

/// A found server; keeps its container (if any) alive while held.
pub struct Server {
    /// The endpoint (value of the endpoint variable).
    pub endpoint: String,
    /// Where it came from, for logs.
    pub origin: String,
    _container: Option<ContainerAsync<GenericImage>>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("endpoint", &connector_base::redact_url(&self.endpoint))
            .field("origin", &self.origin)
            .finish()
    }
}

fn services_required() -> bool {
    std::env::var(REQUIRE_SERVICES).is_ok_and(|v| v == "1" || v.eq_ignore_ascii_case("true"))
}

/// The `.services/env` file of the workspace around the current directory.
pub fn services_file() -> Option<PathBuf> {
    let start = std::env::current_dir().ok()?;
    start.ancestors().map(|dir| dir.join(".services").join("env")).find(|p| p.is_file())
}

/// `KEY=VALUE` lines of a services file.
pub fn read_services_file(path: &Path) -> Vec<(String, String)> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|line| line.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

fn docker_engine_answers() -> bool {
    let socket = Path::new("/var/run/docker.sock").exists() || std::env::var_os("DOCKER_HOST").is_some();
    socket
        && std::process::Command::new("docker")
            .arg("info")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
}

impl TestServer {
    /// Find the server: `Ok(Some)` to test against, `Ok(None)` to skip (a loud
    /// message was printed), `Err` when it is required and missing.
    pub async fn discover(&self) -> Result<Option<Server>, TestkitError> {
        let env = |name: &str| std::env::var(name).ok();
        match self.locate(env, services_file().as_deref()) {
            Found::Endpoint(endpoint, origin) => Ok(Some(Server { endpoint, origin, _container: None })),
            Found::Nothing if docker_engine_answers() => self.start_container().await.map(Some),
            Found::Nothing => self.missing(services_required()),
        }
    }

    /// Where the endpoint comes from, without Docker: the variable, then the file.
    fn locate(&self, env: impl Fn(&str) -> Option<String>, file: Option<&Path>) -> Found {
        if let Some(endpoint) = env(self.variable) {
            return Found::Endpoint(endpoint, format!("${}", self.variable));
        }
        let from_file = file.and_then(|f| {
            read_services_file(f)
                .into_iter()
                .find(|(k, _)| k == self.variable)
                .map(|(_, v)| (v, f.display().to_string()))
        });
        match from_file {
            Some((endpoint, origin)) => Found::Endpoint(endpoint, origin),
            None => Found::Nothing,
        }
    }

    fn missing(&self, required: bool) -> Result<Option<Server>, TestkitError> {
        if required {
            return Err(TestkitError::ServerMissing {
                system: self.system.into(),
                variable: self.variable.into(),
                service: self.service.into(),
            });
        }
        eprintln!(
            "\n*** SKIPPED: no {} server. Set {} or run `cargo xtask services up {}` (or start Docker) to run this test. ***\n",
            self.system, self.variable, self.service
        );
        Ok(None)
    }

    async fn start_container(&self) -> Result<Server, TestkitError> {
        let (name, tag, port) = self.image;
        let container = GenericImage::new(name, tag)
            .with_exposed_port(port.tcp())
            .with_wait_for(WaitFor::message_on_stdout(self.ready_line))
            .start()
            .await
            .map_err(|e| TestkitError::Container { image: format!("{name}:{tag}"), message: e.to_string() })?;
        let host_port = container
            .get_host_port_ipv4(port)
            .await
            .map_err(|e| TestkitError::Container { image: format!("{name}:{tag}"), message: e.to_string() })?;
        Ok(Server {
            endpoint: (self.endpoint)("127.0.0.1", host_port),
            origin: format!("container {name}:{tag}"),
            _container: Some(container),
        })
    }
}

/// Restart a server started by `cargo xtask services` (for "server restarted
/// mid-run" tests). Servers from an endpoint variable or a container cannot be
/// restarted this way: the error says so.
pub fn restart_service(server: &Server, service: &TestServer) -> Result<(), TestkitError> {
    let file = services_file().filter(|f| server.origin == f.display().to_string()).ok_or_else(|| {
        TestkitError::Target(format!(
            "{} at {} came from {}, not from `cargo xtask services`; it cannot be restarted by the test",
            service.system,
            connector_base::redact_url(&server.endpoint),
            server.origin
        ))
    })?;
    let root = file.parent().and_then(Path::parent).ok_or_else(|| TestkitError::Target("no workspace root".into()))?;
    let status = std::process::Command::new("cargo")
        .args(["xtask", "services", "restart", service.service])
        .current_dir(root)
        .status()
        .map_err(|e| TestkitError::Target(format!("cannot run cargo xtask: {e}")))?;
    if status.success() {
        Ok(())
    } else {
        Err(TestkitError::Target(format!("`cargo xtask services restart {}` failed: {status}", service.service)))
    }
}

/// The test servers the workspace knows.
pub mod servers {
    use super::TestServer;

    /// Redis (`REDIS_URL`, e.g. `redis://127.0.0.1:6379`).
    pub const REDIS: TestServer = TestServer {
        system: "Redis",
        variable: "REDIS_URL",
        service: "redis",
        image: ("redis", "7.0", 6379),
        ready_line: "Ready to accept connections",
        endpoint: |host, port| format!("redis://{host}:{port}"),
    };

    /// RabbitMQ (`RABBITMQ_URL`, e.g. `amqp://guest:guest@127.0.0.1:5672/%2f`).
    pub const RABBITMQ: TestServer = TestServer {
        system: "RabbitMQ",
        variable: "RABBITMQ_URL",
        service: "rabbitmq",
        image: ("rabbitmq", "3.10", 5672),
        ready_line: "Server startup complete",
        endpoint: |host, port| format!("amqp://guest:guest@{host}:{port}/%2f"),
    };

    /// S3 (`S3_ENDPOINT`, e.g. `http://127.0.0.1:4566`; moto server).
    pub const S3: TestServer = TestServer {
        system: "S3 (moto)",
        variable: "S3_ENDPOINT",
        service: "moto",
        image: ("motoserver/moto", "5.2.5", 5000),
        ready_line: "Running on",
        endpoint: |host, port| format!("http://{host}:{port}"),
    };

    /// Firehose (`FIREHOSE_ENDPOINT`, e.g. `http://127.0.0.1:4566`; moto server, which
    /// serves S3 on the same port: tests read the S3 destination through [`S3`]).
    pub const FIREHOSE: TestServer = TestServer {
        system: "Firehose (moto)",
        variable: "FIREHOSE_ENDPOINT",
        service: "moto",
        image: ("motoserver/moto", "5.2.5", 5000),
        ready_line: "Running on",
        endpoint: |host, port| format!("http://{host}:{port}"),
    };

    /// DynamoDB (`DYNAMODB_ENDPOINT`, e.g. `http://127.0.0.1:8000`; AWS DynamoDB Local).
    pub const DYNAMODB: TestServer = TestServer {
        system: "DynamoDB (DynamoDB Local)",
        variable: "DYNAMODB_ENDPOINT",
        service: "dynamodb",
        image: ("amazon/dynamodb-local", "3.1.0", 8000),
        ready_line: "CorsParams",
        endpoint: |host, port| format!("http://{host}:{port}"),
    };

    /// Kinesis (`KINESIS_ENDPOINT`, e.g. `http://127.0.0.1:4568`; kinesis-local, the
    /// kinesis-mock engine).
    pub const KINESIS: TestServer = TestServer {
        system: "Kinesis (kinesis-local)",
        variable: "KINESIS_ENDPOINT",
        service: "kinesis",
        image: ("ghcr.io/etspaceman/kinesis-mock", "0.4.8", 4568),
        ready_line: "service bound to address",
        endpoint: |host, port| format!("http://{host}:{port}"),
    };

    /// Kafka (`KAFKA_BOOTSTRAP_SERVERS`, e.g. `127.0.0.1:9092`).
    pub const KAFKA: TestServer = TestServer {
        system: "Kafka",
        variable: "KAFKA_BOOTSTRAP_SERVERS",
        service: "kafka",
        image: ("apache/kafka", "3.9.1", 9092),
        ready_line: "Kafka Server started",
        endpoint: |host, port| format!("{host}:{port}"),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_variable_wins_then_the_services_file() {
        let dir = std::env::temp_dir().join(format!("testkit-discovery-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("env");
        std::fs::write(&file, "KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:9092\nREDIS_URL=redis://127.0.0.1:6379\n").unwrap();
        let set = |name: &str| (name == "REDIS_URL").then(|| "redis://10.0.0.1:1".to_string());
        match servers::REDIS.locate(set, Some(&file)) {
            Found::Endpoint(e, origin) => {
                assert_eq!((e.as_str(), origin.as_str()), ("redis://10.0.0.1:1", "$REDIS_URL"))
            }
            Found::Nothing => panic!("the variable must be used"),
        }
        match servers::REDIS.locate(|_| None, Some(&file)) {
            Found::Endpoint(e, _) => assert_eq!(e, "redis://127.0.0.1:6379"),
            Found::Nothing => panic!("the services file must be used"),
        }
        assert!(matches!(servers::RABBITMQ.locate(|_| None, Some(&file)), Found::Nothing));
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn a_missing_server_fails_only_when_required() {
        let err = servers::RABBITMQ.missing(true).unwrap_err().to_string();
        assert!(err.contains("RABBITMQ_URL") && err.contains("cargo xtask services up rabbitmq"), "{err}");
        assert!(servers::RABBITMQ.missing(false).unwrap().is_none());
    }
}

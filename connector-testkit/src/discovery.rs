//! Test-server discovery. A system is reached through its endpoint variable (for
//! example `REDIS_URL`); if unset, through the file `cargo xtask services up` writes
//! (`.services/env` at the workspace root); if none, in a container started with
//! testcontainers when a Docker engine answers (see [`crate::containers`]); otherwise
//! the test is skipped with a loud message, except with
//! `CONNECTOR_TESTS_REQUIRE_SERVICES=1`, where a missing server is a failure.

use std::path::{Path, PathBuf};

use crate::containers;
use crate::error::TestkitError;
pub use crate::server::{LaunchFn, Server, TestServer};

/// The variable that turns a missing server into a failure.
pub const REQUIRE_SERVICES: &str = "CONNECTOR_TESTS_REQUIRE_SERVICES";

enum Found {
    Endpoint(String, String),
    Nothing,
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

impl TestServer {
    /// Find the server: `Ok(Some)` to test against, `Ok(None)` to skip (a loud
    /// message was printed), `Err` when it is required and missing.
    pub async fn discover(&self) -> Result<Option<Server>, TestkitError> {
        let env = |name: &str| std::env::var(name).ok();
        match self.locate(env, services_file().as_deref()) {
            Found::Endpoint(endpoint, origin) => Ok(Some(Server { endpoint, origin, container: None })),
            Found::Nothing if containers::engine_answers() => containers::shared(self).await.map(Some),
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::servers;

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

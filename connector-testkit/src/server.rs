//! What a test server is (how to find, probe and start one) and what discovery found.

use crate::launch::{Launch, Mode};

/// A server's command line in a [`Mode`], on some ports, with its data in a
/// directory, with extra arguments.
pub type LaunchFn = fn(Mode, &[u16], &str, &[String]) -> Result<Launch, String>;

/// How to find, probe and start one kind of test server.
#[derive(Debug, Clone)]
pub struct TestServer {
    /// Name for people ("Redis").
    pub system: &'static str,
    /// Endpoint variable (`REDIS_URL`).
    pub variable: &'static str,
    /// `cargo xtask services` name (`redis`); servers of one service share a container.
    pub service: &'static str,
    /// Answers when the server speaks its protocol at `host:port`.
    pub probe: fn(&str) -> Result<(), String>,
    /// The image `cargo xtask images` builds.
    pub local_image: &'static str,
    /// The system's official image.
    pub official_image: &'static str,
    /// Free ports the server needs (the first is the one clients use).
    pub ports: usize,
    /// Its command line in `Mode`, on these ports, with its data in the directory,
    /// with extra arguments (private servers); an error when it cannot run so.
    pub launch: LaunchFn,
    /// Builds the endpoint from a host and the first port.
    pub endpoint: fn(&str, u16) -> String,
}

/// A found server.
pub struct Server {
    /// The endpoint (value of the endpoint variable).
    pub endpoint: String,
    /// Where it came from, for logs.
    pub origin: String,
    /// The name of its container, when it runs in one (then private servers do too).
    pub container: Option<String>,
}

impl Server {
    pub(crate) fn of_container(endpoint: String, origin: String, container: String) -> Self {
        Server { endpoint, origin, container: Some(container) }
    }

    /// Whether it runs in a container.
    pub fn in_container(&self) -> bool {
        self.container.is_some()
    }
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("endpoint", &connector_base::redact_url(&self.endpoint))
            .field("origin", &self.origin)
            .finish()
    }
}

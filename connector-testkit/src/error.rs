//! The error type of the testkit.

/// What can go wrong while finding a test server or running a suite.
#[derive(Debug, thiserror::Error)]
pub enum TestkitError {
    /// The server is needed (`CONNECTOR_TESTS_REQUIRE_SERVICES=1`) and was not found.
    #[error(
        "no {system} server: set {variable}, or run `cargo xtask services up {service}`, or start a Docker engine \
         (required because CONNECTOR_TESTS_REQUIRE_SERVICES=1)"
    )]
    ServerMissing {
        /// The system, for people.
        system: String,
        /// The endpoint variable.
        variable: String,
        /// The `cargo xtask services` name.
        service: String,
    },
    /// Starting a container failed.
    #[error("could not start the {image} container: {message}")]
    Container {
        /// Image name.
        image: String,
        /// What testcontainers said.
        message: String,
    },
    /// The job of a suite failed for good.
    #[error("the suite's job failed: {0}")]
    Job(#[from] stream_core::StreamError),
    /// The connector's read-back or preparation failed.
    #[error("{0}")]
    Target(String),
}

//! Errors of the automation.

/// What can make an xtask command fail.
#[derive(Debug, thiserror::Error)]
pub enum XtaskError {
    /// Bad command line.
    #[error("{0}")]
    Usage(String),
    /// A step's command could not be started.
    #[error("could not start `{command}`: {source} (is it installed and on PATH?)")]
    Spawn {
        /// The command line.
        command: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A test server could not be installed or started.
    #[error("service {service}: {message}")]
    Service {
        /// Service name.
        service: String,
        /// What went wrong.
        message: String,
    },
    /// A file operation failed.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: std::path::PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A step's command failed.
    #[error("`{command}` failed with {status}")]
    Failed {
        /// The command line.
        command: String,
        /// Its exit status.
        status: std::process::ExitStatus,
    },
}

impl XtaskError {
    pub fn io(path: impl Into<std::path::PathBuf>, source: std::io::Error) -> Self {
        XtaskError::Io { path: path.into(), source }
    }
}

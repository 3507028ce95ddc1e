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
    /// A step's command failed.
    #[error("`{command}` failed with {status}")]
    Failed {
        /// The command line.
        command: String,
        /// Its exit status.
        status: std::process::ExitStatus,
    },
}

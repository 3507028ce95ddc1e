//! The one error type of the runtime and of the connector API.

use std::error::Error as StdError;
use std::path::PathBuf;

/// Result alias used across the runtime and the connector API.
pub type Result<T, E = StreamError> = std::result::Result<T, E>;

/// Everything that can go wrong while building or running a job.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StreamError {
    /// An option was given a value it cannot take; rejected before the job starts.
    #[error("invalid configuration: `{option}` = {value}: {reason}")]
    InvalidConfig {
        /// Name of the option, as spelled in the builder.
        option: &'static str,
        /// The rejected value, printed as given.
        value: String,
        /// What a valid value looks like.
        reason: String,
    },

    /// A file or directory operation failed.
    #[error("I/O error on {path}: {source} (check that the path exists and is writable)")]
    Io {
        /// The path that was being read or written.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// State could not be encoded or decoded (usually a changed state type).
    #[error("state of {what} could not be (de)serialized: {source}")]
    State {
        /// Which operator or checkpoint part.
        what: String,
        /// The codec's error (JSON in checkpoints of format 1, MessagePack after).
        #[source]
        source: Box<dyn StdError + Send + Sync + 'static>,
    },

    /// A checkpoint file is damaged or of an unknown format version.
    #[error("checkpoint {path} is unusable: {reason}")]
    CorruptCheckpoint {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },

    /// The checkpoint a job restores from holds state that no stage of the job takes
    /// (its operator was removed, or its uid changed). Permanent.
    #[error(
        "checkpoint {checkpoint} holds state of {} that no operator of this job has: give the operator \
         that should take it the same `.uid(...)`, or drop that state with \
         `.allow_non_restored_state(true)` on the environment builder",
        uids.join(", ")
    )]
    StateNotRestored {
        /// The checkpoint's id.
        checkpoint: u64,
        /// The ids the unclaimed state is stored under.
        uids: Vec<String>,
    },

    /// A newer process claimed the checkpoint storage this job writes to (its
    /// replacement started while it still ran). Permanent: the job stops without
    /// committing the checkpoint it was storing.
    #[error(
        "checkpoint storage {location} was claimed by a newer writer (claim {claim}) after this one \
         (generation {generation}): this process was replaced and stops without committing; run \
         one process per checkpoint location (one per replica index)"
    )]
    Fenced {
        /// The storage location (store and prefix).
        location: String,
        /// This writer's generation (the number of its first claim).
        generation: u64,
        /// The claim that showed a newer writer.
        claim: u64,
    },

    /// A fault planted by a [`crate::fault::FaultInjector`] fired (tests only).
    #[error("injected fault: {0}")]
    InjectedFault(String),

    /// Too many checkpoints failed in a row.
    #[error(
        "{failed} consecutive checkpoints failed, more than the {tolerable} tolerated \
         (raise `tolerable_failed_checkpoints` or fix the cause: {last_reason})"
    )]
    TooManyCheckpointFailures {
        /// How many failed in a row.
        failed: u32,
        /// The configured tolerance.
        tolerable: u32,
        /// Why the last one failed.
        last_reason: String,
    },

    /// A subtask failed; the job restarts or fails according to its restart strategy.
    #[error("task {task} failed: {message}")]
    TaskFailed {
        /// `stage/subtask` of the failed task.
        task: String,
        /// Its error.
        message: String,
    },

    /// A subtask failed with `source`; the job restarts or fails according to its
    /// restart strategy. [`StreamError::find`] reaches the connector's and its
    /// client's error through it.
    #[error("task {task} failed: {source}")]
    Task {
        /// `stage/subtask` of the failed task.
        task: String,
        /// Its error.
        #[source]
        source: Box<StreamError>,
    },

    /// The restart strategy gave up.
    #[error("job failed after {attempts} attempt(s); last error: {last}")]
    JobFailed {
        /// Attempts made, the first one included.
        attempts: u32,
        /// The error of the last attempt.
        #[source]
        last: Box<StreamError>,
    },

    /// An error no restart can heal (a topic that does not exist, an option the
    /// server refuses): the job fails at once, whatever its restart strategy.
    #[error("{0} (a restart cannot mend this: the job fails without restarting)")]
    Permanent(#[source] Box<StreamError>),

    /// An error from a connector (its own error type, boxed).
    #[error("{0}")]
    Connector(#[source] Box<dyn StdError + Send + Sync + 'static>),

    /// The job was torn down while a task was still sending (a downstream task ended).
    #[error("channel to a downstream task closed (the job is shutting down)")]
    ChannelClosed,
}

impl StreamError {
    /// Wrap any connector error.
    pub fn connector<E: StdError + Send + Sync + 'static>(error: E) -> Self {
        StreamError::Connector(Box::new(error))
    }

    /// The first error of type `E` in this error's chain of sources (itself
    /// included): a connector's error enum, or the client error under it, as in
    /// `error.find::<rdkafka::error::KafkaError>()`.
    pub fn find<E: StdError + 'static>(&self) -> Option<&E> {
        let mut next: Option<&(dyn StdError + 'static)> = Some(self);
        while let Some(error) = next {
            if let Some(found) = error.downcast_ref::<E>() {
                return Some(found);
            }
            // A boxed StreamError (the source of Task, JobFailed, Permanent) shows as
            // its box.
            if let Some(found) = error
                .downcast_ref::<Box<StreamError>>()
                .and_then(|inner| (&**inner as &dyn StdError).downcast_ref::<E>())
            {
                return Some(found);
            }
            next = error.source();
        }
        None
    }

    /// `error` marked as one no restart can heal ([`StreamError::Permanent`]).
    pub fn permanent(error: impl Into<StreamError>) -> Self {
        StreamError::Permanent(Box::new(error.into()))
    }

    /// Whether this error, or one in its chain of sources, is one no restart can
    /// heal: [`StreamError::Permanent`], [`StreamError::InvalidConfig`],
    /// [`StreamError::StateNotRestored`] or [`StreamError::Fenced`].
    pub fn is_permanent(&self) -> bool {
        let mut next: Option<&(dyn StdError + 'static)> = Some(self);
        while let Some(error) = next {
            if let Some(
                StreamError::Permanent(_)
                | StreamError::InvalidConfig { .. }
                | StreamError::StateNotRestored { .. }
                | StreamError::Fenced { .. },
            ) = as_stream_error(error)
            {
                return true;
            }
            next = error.source();
        }
        false
    }

    /// Shorthand for [`StreamError::InvalidConfig`].
    pub fn invalid(option: &'static str, value: impl std::fmt::Display, reason: impl Into<String>) -> Self {
        StreamError::InvalidConfig { option, value: value.to_string(), reason: reason.into() }
    }

    /// Shorthand for [`StreamError::Io`].
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        StreamError::Io { path: path.into(), source }
    }

    /// [`StreamError::TaskFailed`] for a spawned `task` (a `spawn` or `spawn_blocking`)
    /// that panicked or was cancelled before it returned.
    pub fn join_failed(task: impl Into<String>, error: tokio::task::JoinError) -> Self {
        StreamError::TaskFailed { task: task.into(), message: error.to_string() }
    }

    /// Shorthand for [`StreamError::State`].
    pub fn state(what: impl Into<String>, source: impl Into<Box<dyn StdError + Send + Sync + 'static>>) -> Self {
        StreamError::State { what: what.into(), source: source.into() }
    }
}

/// `error` as a [`StreamError`], also when it is the box a variant holds as source.
fn as_stream_error<'a>(error: &'a (dyn StdError + 'static)) -> Option<&'a StreamError> {
    error.downcast_ref::<StreamError>().or_else(|| error.downcast_ref::<Box<StreamError>>().map(|inner| &**inner))
}

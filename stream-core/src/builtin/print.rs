//! Print records to standard output or standard error (at-least-once: flushed at
//! every checkpoint, so after a restore the lines since the last checkpoint may be
//! printed again).

use std::fmt::Display;
use std::io::Write;

use crate::api::{NoCommitter, Sink, SinkWriter, TaskContext};
use crate::error::{Result, StreamError};

/// Prints `prefix> record` (or `prefix:subtask> record` with parallelism > 1).
#[derive(Debug, Clone, Default)]
pub struct PrintSink {
    prefix: Option<String>,
    stderr: bool,
}

impl PrintSink {
    /// Print to standard output without prefix.
    pub fn new() -> Self {
        Self::default()
    }

    /// Put `prefix` before each line.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = Some(prefix.into());
        self
    }

    /// Print to standard error instead.
    pub fn to_stderr(mut self) -> Self {
        self.stderr = true;
        self
    }
}

impl<T: Display + Send + 'static> Sink<T> for PrintSink {
    type Committable = ();
    type WriterState = ();
    type Writer = PrintWriter;
    type Committer = NoCommitter<()>;

    fn connector_name(&self) -> &'static str {
        "print"
    }

    async fn create_writer(&self, ctx: &TaskContext, _restored: Vec<()>) -> Result<PrintWriter> {
        let tag = match (&self.prefix, ctx.parallelism > 1) {
            (Some(p), true) => format!("{p}:{}> ", ctx.subtask),
            (Some(p), false) => format!("{p}> "),
            (None, true) => format!("{}> ", ctx.subtask),
            (None, false) => String::new(),
        };
        Ok(PrintWriter { tag, buffer: Vec::with_capacity(8192), stderr: self.stderr })
    }

    async fn create_committer(&self, _ctx: &TaskContext) -> Result<NoCommitter<()>> {
        Ok(NoCommitter::default())
    }
}

/// Buffers lines and writes them at flush or when 64 KiB are buffered.
pub struct PrintWriter {
    tag: String,
    buffer: Vec<u8>,
    stderr: bool,
}

impl PrintWriter {
    fn write_out(&mut self) -> Result<()> {
        let result = if self.stderr {
            std::io::stderr().lock().write_all(&self.buffer)
        } else {
            let mut out = std::io::stdout().lock();
            out.write_all(&self.buffer).and_then(|_| out.flush())
        };
        self.buffer.clear();
        result.map_err(|e| StreamError::io(if self.stderr { "<stderr>" } else { "<stdout>" }, e))
    }
}

impl<T: Display + Send + 'static> SinkWriter<T> for PrintWriter {
    type Committable = ();
    type State = ();

    async fn write(&mut self, record: T) -> Result<()> {
        // Writing to a Vec cannot fail.
        let _ = writeln!(self.buffer, "{}{record}", self.tag);
        if self.buffer.len() >= 64 * 1024 {
            self.write_out()?;
        }
        Ok(())
    }

    async fn flush(&mut self, _end_of_input: bool) -> Result<()> {
        self.write_out()
    }
}

//! Write records as text lines to a TCP server (at-least-once: buffered lines are
//! flushed at every checkpoint; a write error fails the checkpoint).

use std::fmt::Display;

use tokio::io::{AsyncWriteExt, BufWriter};
use tokio::net::TcpStream;

use crate::api::{NoCommitter, Sink, SinkWriter, TaskContext};
use crate::error::{Result, StreamError};

/// Connects to `address` from every subtask and writes one line per record.
#[derive(Debug, Clone)]
pub struct SocketSink {
    address: String,
}

impl SocketSink {
    /// Write to `address` (`host:port`).
    pub fn new(address: impl Into<String>) -> Self {
        SocketSink { address: address.into() }
    }
}

fn io_error(address: &str, e: std::io::Error) -> StreamError {
    StreamError::io(format!("tcp://{address}"), e)
}

impl<T: Display + Send + 'static> Sink<T> for SocketSink {
    type Committable = ();
    type WriterState = ();
    type Writer = SocketWriter;
    type Committer = NoCommitter<()>;

    fn connector_name(&self) -> &'static str {
        "socket"
    }

    async fn create_writer(&self, _ctx: &TaskContext, _restored: Vec<()>) -> Result<SocketWriter> {
        let stream = TcpStream::connect(&self.address).await.map_err(|e| io_error(&self.address, e))?;
        Ok(SocketWriter { address: self.address.clone(), stream: BufWriter::new(stream), line: String::new() })
    }

    async fn create_committer(&self, _ctx: &TaskContext) -> Result<NoCommitter<()>> {
        Ok(NoCommitter::default())
    }
}

/// The writer of one subtask.
pub struct SocketWriter {
    address: String,
    stream: BufWriter<TcpStream>,
    line: String,
}

impl<T: Display + Send + 'static> SinkWriter<T> for SocketWriter {
    type Committable = ();
    type State = ();

    async fn write(&mut self, record: T) -> Result<()> {
        use std::fmt::Write;
        self.line.clear();
        let _ = writeln!(self.line, "{record}");
        self.stream.write_all(self.line.as_bytes()).await.map_err(|e| io_error(&self.address, e))
    }

    async fn flush(&mut self, end_of_input: bool) -> Result<()> {
        self.stream.flush().await.map_err(|e| io_error(&self.address, e))?;
        if end_of_input {
            self.stream.shutdown().await.map_err(|e| io_error(&self.address, e))?;
        }
        Ok(())
    }
}

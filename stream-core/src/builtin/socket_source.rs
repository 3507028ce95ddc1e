//! Read text lines from a TCP server (at-most-once: the position cannot be replayed,
//! so lines sent while the job is down or since the last checkpoint are lost, never
//! repeated). Only subtask 0 reads; the stream ends when the server closes it.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpStream;

use crate::api::{
    Boundedness, EnumeratorContext, ReadStatus, Source, SourceReader, SourceSplit, SplitEnumerator, TaskContext,
};
use crate::error::{Result, StreamError};

/// The one split: the socket address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SocketSplit {
    address: String,
}

impl SourceSplit for SocketSplit {
    fn split_id(&self) -> String {
        self.address.clone()
    }
}

/// Lines from `host:port`, without the line terminator.
#[derive(Debug, Clone)]
pub struct SocketTextSource {
    address: String,
}

impl SocketTextSource {
    /// Read from `address` (`host:port`).
    pub fn new(address: impl Into<String>) -> Self {
        SocketTextSource { address: address.into() }
    }
}

impl Source for SocketTextSource {
    type Output = String;
    type Split = SocketSplit;
    type EnumeratorState = bool;
    type Enumerator = SocketEnumerator;
    type Reader = SocketReader;

    fn connector_name(&self) -> &'static str {
        "socket"
    }

    fn boundedness(&self) -> Boundedness {
        Boundedness::ContinuousUnbounded
    }

    async fn create_enumerator(&self, _parallelism: usize, restored: Option<bool>) -> Result<SocketEnumerator> {
        Ok(SocketEnumerator { address: self.address.clone(), assigned: restored.unwrap_or(false) })
    }

    async fn create_reader(&self, _ctx: &TaskContext) -> Result<SocketReader> {
        Ok(SocketReader { split: None, no_more: false, conn: None, line: Vec::new(), done: false })
    }
}

/// Gives the socket to subtask 0 once.
#[derive(Debug)]
pub struct SocketEnumerator {
    address: String,
    assigned: bool,
}

impl SplitEnumerator for SocketEnumerator {
    type Split = SocketSplit;
    type State = bool;

    async fn handle_split_request(&mut self, subtask: usize, ctx: &mut EnumeratorContext<SocketSplit>) -> Result<()> {
        if subtask == 0 && !self.assigned {
            self.assigned = true;
            ctx.assign_split(0, SocketSplit { address: self.address.clone() });
        } else {
            ctx.signal_no_more_splits(subtask);
        }
        Ok(())
    }

    fn add_splits_back(&mut self, _splits: Vec<SocketSplit>, _subtask: usize) {
        self.assigned = false;
    }

    fn snapshot_state(&mut self, _checkpoint_id: u64) -> Result<bool> {
        Ok(self.assigned)
    }
}

/// Reads lines; keeps a partial line across polls.
pub struct SocketReader {
    split: Option<SocketSplit>,
    no_more: bool,
    conn: Option<BufReader<TcpStream>>,
    line: Vec<u8>,
    done: bool,
}

const POLL: Duration = Duration::from_millis(50);

impl SourceReader for SocketReader {
    type Output = String;
    type Split = SocketSplit;

    fn add_splits(&mut self, splits: Vec<SocketSplit>) {
        if let Some(split) = splits.into_iter().next() {
            self.split = Some(split);
        }
    }

    fn notify_no_more_splits(&mut self) {
        self.no_more = true;
    }

    async fn poll_next(&mut self, out: &mut Vec<String>) -> Result<ReadStatus> {
        let Some(split) = &self.split else {
            return Ok(if self.no_more { ReadStatus::Finished } else { ReadStatus::NeedSplits });
        };
        if self.done {
            return Ok(ReadStatus::Finished);
        }
        if self.conn.is_none() {
            let stream = TcpStream::connect(&split.address)
                .await
                .map_err(|e| StreamError::io(format!("tcp://{}", split.address), e))?;
            self.conn = Some(BufReader::new(stream));
        }
        let Some(conn) = self.conn.as_mut() else { return Ok(ReadStatus::NothingAvailable) };
        for _ in 0..1024 {
            // read_until keeps partial input in `self.line` if the timeout cancels it.
            match tokio::time::timeout(POLL, conn.read_until(b'\n', &mut self.line)).await {
                Err(_) => return Ok(ReadStatus::MoreAvailable),
                Ok(Err(e)) => return Err(StreamError::io(format!("tcp://{}", split.address), e)),
                Ok(Ok(0)) => {
                    if !self.line.is_empty() {
                        out.push(String::from_utf8_lossy(&self.line).into_owned());
                        self.line.clear();
                    }
                    self.done = true;
                    return Ok(ReadStatus::Finished);
                }
                Ok(Ok(_)) => {
                    let text = String::from_utf8_lossy(&self.line);
                    out.push(text.trim_end_matches(['\n', '\r']).to_string());
                    self.line.clear();
                }
            }
        }
        Ok(ReadStatus::MoreAvailable)
    }

    fn snapshot_state(&mut self, _checkpoint_id: u64) -> Result<Vec<SocketSplit>> {
        Ok(self.split.iter().cloned().collect())
    }
}

//! The background task of one writer: it owns the buffer and the in-flight requests,
//! so that batches are sent on size, byte size or age even while no record arrives.

use std::collections::VecDeque;
use std::sync::Arc;

use stream_core::retry::Backoff;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;
use tokio::time::Instant;

use stream_core::metrics::SinkMetrics;

use super::client::{AsyncSinkClient, SubmitResult, sized};
use super::config::AsyncSinkConfig;
use super::rate_limit::Aimd;
use crate::error::BaseError;

pub(crate) enum Command<E> {
    /// Entries with their sizes.
    Write(Vec<(E, usize)>),
    /// `drain`: send everything and wait; otherwise wait for in-flight requests only
    /// and answer with the entries still buffered.
    Flush { drain: bool, reply: oneshot::Sender<Vec<E>> },
}

struct Buffered<E> {
    entry: E,
    size: usize,
    since: Instant,
    /// When the entry was first sent (retried entries only).
    first_try: Option<Instant>,
}

/// A sent batch (entries with sizes), when its oldest entry was first sent, when
/// this request was sent, and how it ended.
type Finished<E> = (Vec<(E, usize)>, Instant, Instant, Outcome<E>);

enum Outcome<E> {
    Done(SubmitResult<E>),
    /// No answer within what is left of `request_timeout`.
    TimedOut,
    /// No answer within `call_timeout`: abandoned, its entries are sent again.
    CallTimedOut,
}

pub(crate) struct Actor<C: AsyncSinkClient> {
    pub(crate) config: AsyncSinkConfig,
    pub(crate) client: Arc<C>,
    pub(crate) commands: mpsc::Receiver<Command<C::Entry>>,
    buffer: VecDeque<Buffered<C::Entry>>,
    buffered_bytes: usize,
    in_flight: JoinSet<Finished<C::Entry>>,
    in_flight_entries: usize,
    aimd: Aimd,
    backoff_until: Option<Instant>,
    backoff: Backoff,
    flush: Option<(bool, oneshot::Sender<Vec<C::Entry>>)>,
    metrics: Option<SinkMetrics>,
}

impl<C: AsyncSinkClient> Actor<C> {
    pub(crate) fn new(
        config: AsyncSinkConfig,
        client: Arc<C>,
        commands: mpsc::Receiver<Command<C::Entry>>,
        restored: Vec<(C::Entry, usize)>,
        metrics: Option<SinkMetrics>,
    ) -> Self {
        let aimd = Aimd::new(config.max_batch_size, config.max_in_flight_requests);
        let backoff = config.retry.backoff();
        let mut actor = Actor {
            config,
            client,
            commands,
            buffer: VecDeque::new(),
            buffered_bytes: 0,
            in_flight: JoinSet::new(),
            in_flight_entries: 0,
            aimd,
            backoff_until: None,
            backoff,
            flush: None,
            metrics,
        };
        actor.push_back(restored);
        actor
    }

    fn push_back(&mut self, entries: Vec<(C::Entry, usize)>) {
        let now = Instant::now();
        for (entry, size) in entries {
            self.buffered_bytes += size;
            self.buffer.push_back(Buffered { entry, size, since: now, first_try: None });
        }
    }

    /// Failed entries go first, as in Flink, remembering when they were first sent.
    fn push_front(&mut self, entries: Vec<(C::Entry, usize)>, first_try: Instant) {
        let now = Instant::now();
        for (entry, size) in entries.into_iter().rev() {
            self.buffered_bytes += size;
            self.buffer.push_front(Buffered { entry, size, since: now, first_try: Some(first_try) });
        }
    }

    /// When the oldest retried entry runs out of `request_timeout` (retries
    /// included), if a timeout fails the writer.
    fn retry_deadline(&self) -> Option<Instant> {
        if !self.config.fail_on_timeout {
            return None;
        }
        self.buffer
            .iter()
            .take_while(|b| b.first_try.is_some())
            .filter_map(|b| b.first_try)
            .min()
            .map(|t| t + self.config.request_timeout)
    }

    pub(crate) async fn run(mut self) -> Result<(), BaseError> {
        loop {
            self.submit_ready()?;
            if self.flush_done() {
                if let Some((_, reply)) = self.flush.take() {
                    let remaining = self.buffer.iter().map(|b| b.entry.clone()).collect();
                    let _ = reply.send(remaining);
                }
                continue;
            }
            let accepting = self.flush.is_none() && self.buffer.len() < self.config.max_buffered_requests;
            let wake = self.next_wake();
            tokio::select! {
                Some(done) = self.in_flight.join_next(), if !self.in_flight.is_empty() => {
                    let (batch, first_try, sent_at, outcome) =
                        done.map_err(|e| BaseError::Fatal(format!("request task failed: {e}")))?;
                    self.complete(batch, first_try, sent_at, outcome)?;
                }
                command = self.commands.recv(), if accepting => match command {
                    None => return Ok(()),
                    Some(Command::Write(entries)) => self.push_back(entries),
                    Some(Command::Flush { drain, reply }) => self.flush = Some((drain, reply)),
                },
                _ = tokio::time::sleep_until(wake.unwrap_or_else(Instant::now)), if wake.is_some() => {}
            }
        }
    }

    fn flush_done(&self) -> bool {
        match &self.flush {
            None => false,
            Some((true, _)) => self.buffer.is_empty() && self.in_flight.is_empty(),
            Some((false, _)) => self.in_flight.is_empty(),
        }
    }

    /// When a batch may become due without any new event: the oldest entry's age
    /// limit (only while a request could start; otherwise an in-flight completion is
    /// what we wait for) or the end of a backoff.
    fn next_wake(&self) -> Option<Instant> {
        let can_submit = self.in_flight.len() < self.config.max_in_flight_requests
            && self.aimd.limit() > self.in_flight_entries
            && !matches!(self.flush, Some((false, _)));
        // A batch already due (full, or a flush draining) waits for the backoff only.
        let now = Instant::now();
        let age = self
            .buffer
            .front()
            .filter(|_| can_submit)
            .map(|b| if self.batch_due(now) { now } else { b.since + self.config.max_time_in_buffer });
        let backoff = self.backoff_until.filter(|t| *t > now);
        let wake = match (age, backoff) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (Some(a), None) => Some(a),
            (None, b) => b,
        };
        match (wake, self.retry_deadline()) {
            (Some(w), Some(d)) => Some(w.min(d)),
            (w, d) => w.or(d),
        }
    }

    fn batch_due(&self, now: Instant) -> bool {
        let Some(front) = self.buffer.front() else { return false };
        match self.flush {
            Some((true, _)) => true,
            Some((false, _)) => false,
            None => {
                self.buffer.len() >= self.config.max_batch_size
                    || self.buffered_bytes >= self.config.max_batch_size_in_bytes
                    || now >= front.since + self.config.max_time_in_buffer
            }
        }
    }

    fn submit_ready(&mut self) -> Result<(), BaseError> {
        loop {
            let now = Instant::now();
            if self.retry_deadline().is_some_and(|d| now >= d) {
                return Err(BaseError::RequestTimeout(self.config.request_timeout));
            }
            if self.backoff_until.is_some_and(|t| now < t) {
                return Ok(());
            }
            if self.in_flight.len() >= self.config.max_in_flight_requests || !self.batch_due(now) {
                return Ok(());
            }
            let allowed = self.aimd.limit().saturating_sub(self.in_flight_entries);
            let max_entries = self.config.max_batch_size.min(allowed);
            if max_entries == 0 {
                return Ok(());
            }
            let mut batch: Vec<(C::Entry, usize)> = Vec::with_capacity(max_entries);
            let mut first_try = now;
            let mut bytes = 0;
            while let Some(front) = self.buffer.front() {
                if batch.len() >= max_entries
                    || (!batch.is_empty() && bytes + front.size > self.config.max_batch_size_in_bytes)
                {
                    break;
                }
                let Some(b) = self.buffer.pop_front() else { break };
                first_try = first_try.min(b.first_try.unwrap_or(now));
                bytes += b.size;
                self.buffered_bytes -= b.size;
                batch.push((b.entry, b.size));
            }
            self.in_flight_entries += batch.len();
            let client = self.client.clone();
            // Failing on timeout, the timeout bounds an entry's retries too.
            let timeout = if self.config.fail_on_timeout {
                self.config.request_timeout.saturating_sub(now - first_try)
            } else {
                self.config.request_timeout
            };
            let (timeout, timed_out) = match self.config.call_timeout {
                Some(call) if call < timeout => (call, Outcome::CallTimedOut),
                _ => (timeout, Outcome::TimedOut),
            };
            self.in_flight.spawn(async move {
                let entries: Vec<C::Entry> = batch.iter().map(|(e, _)| e.clone()).collect();
                let sent_at = Instant::now();
                let outcome = match tokio::time::timeout(timeout, client.submit(entries)).await {
                    Ok(result) => Outcome::Done(result),
                    Err(_) => timed_out,
                };
                (batch, first_try, sent_at, outcome)
            });
        }
    }

    fn complete(
        &mut self,
        batch: Vec<(C::Entry, usize)>,
        first_try: Instant,
        sent_at: Instant,
        outcome: Outcome<C::Entry>,
    ) -> Result<(), BaseError> {
        self.in_flight_entries -= batch.len();
        let sent = batch.len() as u64;
        let batch_bytes: usize = batch.iter().map(|(_, size)| size).sum();
        if let (Some(metrics), Outcome::Done(_)) = (&self.metrics, &outcome) {
            metrics.send_time(sent_at.elapsed());
        }
        let failed: Vec<(C::Entry, usize)> = match outcome {
            Outcome::Done(SubmitResult::Success) => Vec::new(),
            Outcome::Done(SubmitResult::Fatal(error)) => return Err(BaseError::Rejected(error)),
            Outcome::Done(SubmitResult::Retry(entries)) => sized(&*self.client, entries),
            Outcome::TimedOut if self.config.fail_on_timeout => {
                return Err(BaseError::RequestTimeout(self.config.request_timeout));
            }
            Outcome::TimedOut => batch,
            Outcome::CallTimedOut => {
                let call_timeout = self.config.call_timeout.unwrap_or_default();
                tracing::warn!(
                    entries = batch.len(),
                    ?call_timeout,
                    "a request got no answer within call_timeout; sending its entries again in a new one"
                );
                batch
            }
        };
        metrics::counter!("async_sink_entries_sent_total").increment(sent - failed.len() as u64);
        if let Some(metrics) = &self.metrics {
            let failed_bytes: usize = failed.iter().map(|(_, size)| size).sum();
            metrics.bytes_out(batch_bytes.saturating_sub(failed_bytes) as u64);
            metrics.records_out_errors(failed.len() as u64);
        }
        if failed.is_empty() {
            self.aimd.on_success();
            self.backoff.reset();
            self.backoff_until = None;
        } else {
            metrics::counter!("async_sink_entries_retried_total").increment(failed.len() as u64);
            self.aimd.on_failure();
            // Entries are retried until written; `request_timeout` bounds a request.
            let backoff = self.backoff.delay();
            tracing::debug!(
                failed = failed.len(),
                ?backoff,
                limit = self.aimd.limit(),
                "request partly failed; retrying"
            );
            self.backoff_until = Some(Instant::now() + backoff);
            self.push_front(failed, first_try);
        }
        metrics::gauge!("async_sink_in_flight_limit").set(self.aimd.limit() as f64);
        Ok(())
    }
}

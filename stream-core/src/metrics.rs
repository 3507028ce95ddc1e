//! Metrics and progress: per-stage record counters, checkpoint statistics, restarts,
//! and Flink's connector metrics (FLIP-33). Every value is reported through the
//! `metrics` facade (names below) so any exporter can pick it up;
//! [`JobMetrics::snapshot`] reads the job's own counters in-process.
//!
//! Every name carries the label `job` (the name given to `execute`/`start`); task and
//! connector metrics also carry `stage` (the stage's name), `subtask` and, for
//! sources and sinks, `connector` (`kafka`, `file`, ...; see each connector's README
//! for which of the optional values it reports).
//!
//! | facade name | FLIP-33 name | kind | reported by |
//! |---|---|---|---|
//! | `stream_records_in_total` | numRecordsIn (operators) | counter | runtime |
//! | `stream_records_out_total` | numRecordsOut (operators) | counter | runtime |
//! | `stream_checkpoints_completed_total` | numberOfCompletedCheckpoints | counter | runtime |
//! | `stream_checkpoints_failed_total` | numberOfFailedCheckpoints | counter | runtime |
//! | `stream_checkpoint_duration_seconds` | lastCheckpointDuration | histogram | runtime |
//! | `stream_checkpoint_size_bytes` | lastCheckpointSize | gauge | runtime |
//! | `stream_last_checkpoint_id` | | gauge | runtime |
//! | `stream_restarts_total` | numRestarts | counter | runtime |
//! | `connector_source_records_in_total` | numRecordsIn | counter | runtime |
//! | `connector_source_bytes_in_total` | numBytesIn | counter | connector ([`SourceMetrics::bytes_in`]) |
//! | `connector_source_pending_records` | pendingRecords | gauge | connector ([`SourceMetrics::pending_records`]) |
//! | `connector_source_fetch_lag_seconds` | currentFetchEventTimeLag | gauge | connector ([`SourceMetrics::fetch_lag`]) |
//! | `connector_sink_records_out_total` | numRecordsOut / numRecordsSend | counter | runtime |
//! | `connector_sink_bytes_out_total` | numBytesOut / numBytesSend | counter | connector ([`SinkMetrics::bytes_out`]) |
//! | `connector_sink_send_time_seconds` | currentSendTime | gauge | connector ([`SinkMetrics::send_time`]) |
//! | `connector_sink_records_out_errors_total` | numRecordsOutErrors / numRecordsSendErrors | counter | connector ([`SinkMetrics::records_out_errors`]) |
//! | `connector_sink_commits_succeeded_total` | numCommittablesSuccess | counter | runtime (committables committed) |
//! | `connector_sink_commits_failed_total` | numCommittablesFailure | counter | runtime (commit calls that failed, retried or not) |

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use metrics::{Counter, Gauge, Label};

/// Add `n` to `counter`; a batch of nothing touches no counter.
fn count(counter: &Counter, n: u64) {
    if n > 0 {
        counter.increment(n);
    }
}

/// Metrics of one source reader subtask (FLIP-33's source metric group). A connector
/// gets it from [`crate::api::TaskContext::source_metrics`] and reports what only it
/// knows; the runtime counts the records. Cloning shares the handles.
#[derive(Debug, Clone)]
pub struct SourceMetrics {
    records_in: Counter,
    bytes_in: Counter,
    pending_records: Gauge,
    fetch_lag: Gauge,
}

impl SourceMetrics {
    pub(crate) fn new(labels: &[Label]) -> Self {
        SourceMetrics {
            records_in: metrics::counter!("connector_source_records_in_total", labels.iter()),
            bytes_in: metrics::counter!("connector_source_bytes_in_total", labels.iter()),
            pending_records: metrics::gauge!("connector_source_pending_records", labels.iter()),
            fetch_lag: metrics::gauge!("connector_source_fetch_lag_seconds", labels.iter()),
        }
    }

    pub(crate) fn records_in(&self, n: u64) {
        count(&self.records_in, n);
    }

    /// Count `n` bytes read from the external system (payload as received, before
    /// deserialization).
    pub fn bytes_in(&self, n: u64) {
        count(&self.bytes_in, n);
    }

    /// Records (or messages) the external system holds for this reader that it has
    /// not fetched yet, as the system reports it (Kafka: consumer lag).
    pub fn pending_records(&self, n: u64) {
        self.pending_records.set(n as f64);
    }

    /// How far behind the newest fetched record is: fetch time minus the record's
    /// event time (Kafka: message timestamp), or what the system reports as the
    /// distance to the stream's tip (Kinesis: `MillisBehindLatest`).
    pub fn fetch_lag(&self, lag: Duration) {
        self.fetch_lag.set(lag.as_secs_f64());
    }
}

/// Metrics of one sink writer subtask (FLIP-33's sink metric group). A connector
/// gets it from [`crate::api::TaskContext::sink_metrics`] and reports what only it
/// knows; the runtime counts the records and the commits. Cloning shares the handles.
#[derive(Debug, Clone)]
pub struct SinkMetrics {
    records_out: Counter,
    bytes_out: Counter,
    send_time: Gauge,
    records_out_errors: Counter,
    commits_succeeded: Counter,
    commits_failed: Counter,
}

impl SinkMetrics {
    pub(crate) fn new(labels: &[Label]) -> Self {
        SinkMetrics {
            records_out: metrics::counter!("connector_sink_records_out_total", labels.iter()),
            bytes_out: metrics::counter!("connector_sink_bytes_out_total", labels.iter()),
            send_time: metrics::gauge!("connector_sink_send_time_seconds", labels.iter()),
            records_out_errors: metrics::counter!("connector_sink_records_out_errors_total", labels.iter()),
            commits_succeeded: metrics::counter!("connector_sink_commits_succeeded_total", labels.iter()),
            commits_failed: metrics::counter!("connector_sink_commits_failed_total", labels.iter()),
        }
    }

    pub(crate) fn records_out(&self, n: u64) {
        count(&self.records_out, n);
    }

    pub(crate) fn commits_succeeded(&self, n: u64) {
        self.commits_succeeded.increment(n);
    }

    pub(crate) fn commit_failed(&self) {
        self.commits_failed.increment(1);
    }

    /// Count `n` bytes sent to the external system (payload as serialized).
    pub fn bytes_out(&self, n: u64) {
        count(&self.bytes_out, n);
    }

    /// How long the newest send (one request or batch) took until the system
    /// acknowledged it.
    pub fn send_time(&self, took: Duration) {
        self.send_time.set(took.as_secs_f64());
    }

    /// Count `n` records the system refused or failed to take (each retry counts).
    pub fn records_out_errors(&self, n: u64) {
        count(&self.records_out_errors, n);
    }
}

/// Record counters of one subtask, updated once per batch.
#[derive(Debug)]
pub(crate) struct TaskCounters {
    stage: Arc<StageCounters>,
    facade_in: metrics::Counter,
    facade_out: metrics::Counter,
}

impl TaskCounters {
    pub(crate) fn records_in(&self, n: u64) {
        if n > 0 {
            self.stage.records_in.fetch_add(n, Ordering::Relaxed);
            self.facade_in.increment(n);
        }
    }

    pub(crate) fn records_out(&self, n: u64) {
        if n > 0 {
            self.stage.records_out.fetch_add(n, Ordering::Relaxed);
            self.facade_out.increment(n);
        }
    }
}

#[derive(Debug, Default)]
struct StageCounters {
    records_in: AtomicU64,
    records_out: AtomicU64,
}

#[derive(Debug, Default)]
struct Inner {
    stages: Mutex<BTreeMap<String, Arc<StageCounters>>>,
    checkpoints_completed: AtomicU64,
    checkpoints_failed: AtomicU64,
    last_checkpoint_id: AtomicU64,
    last_checkpoint_duration_us: AtomicU64,
    last_checkpoint_bytes: AtomicU64,
    restarts: AtomicU64,
    /// The `job` label: the name of the job these metrics belong to.
    job: Mutex<String>,
}

/// Live metrics of a job; cloning shares them. Obtain with
/// [`crate::StreamEnvironment::metrics`] before or while the job runs.
#[derive(Debug, Clone, Default)]
pub struct JobMetrics {
    inner: Arc<Inner>,
}

/// A consistent-enough read of [`JobMetrics`] for progress display.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MetricsSnapshot {
    /// `(stage, records in, records out)` per stage, in stage order.
    pub stages: Vec<(String, u64, u64)>,
    /// Checkpoints completed since the job started (all attempts).
    pub checkpoints_completed: u64,
    /// Checkpoints aborted (timeout, decline, failure).
    pub checkpoints_failed: u64,
    /// Id of the newest completed checkpoint (0 if none).
    pub last_checkpoint_id: u64,
    /// Duration of the newest completed checkpoint.
    pub last_checkpoint_duration: Duration,
    /// Encoded size of the newest completed checkpoint.
    pub last_checkpoint_bytes: u64,
    /// Restarts so far.
    pub restarts: u64,
}

impl JobMetrics {
    /// Name the job these metrics belong to (the `job` label of every metric).
    pub(crate) fn set_job(&self, name: &str) {
        *self.inner.job.lock().unwrap_or_else(|p| p.into_inner()) = name.to_string();
    }

    /// The `job` label.
    pub(crate) fn job(&self) -> String {
        self.inner.job.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub(crate) fn task(&self, stage: &str, subtask: usize) -> TaskCounters {
        let counters = {
            let mut stages = self.inner.stages.lock().unwrap_or_else(|p| p.into_inner());
            stages.entry(stage.to_string()).or_default().clone()
        };
        let labels = [("job", self.job()), ("stage", stage.to_string()), ("subtask", subtask.to_string())];
        TaskCounters {
            stage: counters,
            facade_in: metrics::counter!("stream_records_in_total", &labels),
            facade_out: metrics::counter!("stream_records_out_total", &labels),
        }
    }

    pub(crate) fn checkpoint_completed(&self, id: u64, duration: Duration, bytes: u64) {
        let i = &self.inner;
        i.checkpoints_completed.fetch_add(1, Ordering::Relaxed);
        i.last_checkpoint_id.store(id, Ordering::Relaxed);
        i.last_checkpoint_duration_us.store(duration.as_micros() as u64, Ordering::Relaxed);
        i.last_checkpoint_bytes.store(bytes, Ordering::Relaxed);
        let job = self.job();
        metrics::counter!("stream_checkpoints_completed_total", "job" => job.clone()).increment(1);
        metrics::histogram!("stream_checkpoint_duration_seconds", "job" => job.clone()).record(duration.as_secs_f64());
        metrics::gauge!("stream_checkpoint_size_bytes", "job" => job.clone()).set(bytes as f64);
        metrics::gauge!("stream_last_checkpoint_id", "job" => job).set(id as f64);
    }

    pub(crate) fn checkpoint_failed(&self) {
        self.inner.checkpoints_failed.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("stream_checkpoints_failed_total", "job" => self.job()).increment(1);
    }

    pub(crate) fn restarted(&self) {
        self.inner.restarts.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("stream_restarts_total", "job" => self.job()).increment(1);
    }

    /// Read every value.
    pub fn snapshot(&self) -> MetricsSnapshot {
        let i = &self.inner;
        let stages = i
            .stages
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(name, c)| {
                (name.clone(), c.records_in.load(Ordering::Relaxed), c.records_out.load(Ordering::Relaxed))
            })
            .collect();
        MetricsSnapshot {
            stages,
            checkpoints_completed: i.checkpoints_completed.load(Ordering::Relaxed),
            checkpoints_failed: i.checkpoints_failed.load(Ordering::Relaxed),
            last_checkpoint_id: i.last_checkpoint_id.load(Ordering::Relaxed),
            last_checkpoint_duration: Duration::from_micros(i.last_checkpoint_duration_us.load(Ordering::Relaxed)),
            last_checkpoint_bytes: i.last_checkpoint_bytes.load(Ordering::Relaxed),
            restarts: i.restarts.load(Ordering::Relaxed),
        }
    }
}

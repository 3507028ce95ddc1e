//! Metrics and progress: per-stage record counters, checkpoint statistics and
//! restarts. Every value is also reported through the `metrics` facade (names below)
//! so any exporter can pick it up; [`JobMetrics::snapshot`] reads them in-process.
//!
//! | facade name | kind | labels |
//! |---|---|---|
//! | `stream_records_in_total` | counter | `stage`, `subtask` |
//! | `stream_records_out_total` | counter | `stage`, `subtask` |
//! | `stream_checkpoints_completed_total` | counter | |
//! | `stream_checkpoints_failed_total` | counter | |
//! | `stream_checkpoint_duration_seconds` | histogram | |
//! | `stream_checkpoint_size_bytes` | gauge | |
//! | `stream_last_checkpoint_id` | gauge | |
//! | `stream_restarts_total` | counter | |

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

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
    pub(crate) fn task(&self, stage: &str, subtask: usize) -> TaskCounters {
        let counters = {
            let mut stages = self.inner.stages.lock().unwrap_or_else(|p| p.into_inner());
            stages.entry(stage.to_string()).or_default().clone()
        };
        let labels = [("stage", stage.to_string()), ("subtask", subtask.to_string())];
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
        metrics::counter!("stream_checkpoints_completed_total").increment(1);
        metrics::histogram!("stream_checkpoint_duration_seconds").record(duration.as_secs_f64());
        metrics::gauge!("stream_checkpoint_size_bytes").set(bytes as f64);
        metrics::gauge!("stream_last_checkpoint_id").set(id as f64);
    }

    pub(crate) fn checkpoint_failed(&self) {
        self.inner.checkpoints_failed.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("stream_checkpoints_failed_total").increment(1);
    }

    pub(crate) fn restarted(&self) {
        self.inner.restarts.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("stream_restarts_total").increment(1);
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

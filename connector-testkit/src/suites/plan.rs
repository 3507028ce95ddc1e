//! Suite settings and the random crash plan.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use stream_core::StreamEnvironmentBuilder;
use stream_core::fault::{Fault, FaultInjector, FaultPoint};
use stream_core::prelude::*;

use crate::proxy::{FaultProxy, NetworkFault};

/// Restarts the external server (see [`crate::PrivateServer::restart_hook`]).
pub type RestartHook =
    Arc<dyn Fn() -> Pin<Box<dyn Future<Output = Result<(), crate::TestkitError>> + Send>> + Send + Sync>;

/// Settings of a suite run.
#[derive(Clone)]
pub struct SuiteConfig {
    /// Records sent through the job.
    pub records: u64,
    /// Crashes planted at random protocol points.
    pub crashes: usize,
    /// Parallelism of source and sink.
    pub parallelism: usize,
    /// Records per second the test source emits (so that the job spans checkpoints).
    pub records_per_second: f64,
    /// Checkpoint interval.
    pub checkpoint_interval: Duration,
    /// Seed of the crash plan (printed, so a failure can be replayed with `TEST_SEED`).
    pub seed: u64,
    /// Exact faults to plant instead of a random plan.
    pub faults: Option<Vec<Fault>>,
    /// Restart the external server once, a third of the way into the run.
    pub restart_server: Option<RestartHook>,
    /// Unbounded suites stop waiting for records after this long without one (make it
    /// longer than a server restart). The default, 10 s, covers a restart after a crash
    /// on a loaded 2-core CI machine (2 s cut a Kinesis run short there, counted as
    /// loss); an at-most-once run, which expects losses, may set it shorter.
    pub idle_stall: Duration,
    /// Network faults played on a proxy while the job runs (see
    /// [`crate::suites::NetworkSuite`]).
    pub network: Option<NetworkPlan>,
    /// Failures beyond the planted crashes the job survives by restarting (default
    /// [`UNPLANNED_RESTARTS`]; the network suite allows none).
    pub unplanned_restarts: u32,
}

impl fmt::Debug for SuiteConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SuiteConfig")
            .field("records", &self.records)
            .field("crashes", &self.crashes)
            .field("parallelism", &self.parallelism)
            .field("seed", &self.seed)
            .field("restart_server", &self.restart_server.is_some())
            .field("network", &self.network)
            .finish()
    }
}

impl SuiteConfig {
    /// The sink suite with one crash at each protocol point, in this order (each armed
    /// only after the one before fired, so the commit-phase crashes hit checkpoints
    /// that carry data): after 800 records (any subtask), while the sink snapshots
    /// (subtask 1), after a checkpoint completed and before its commit (subtask 0), in
    /// the middle of the commit (subtask 1); the last two on a checkpoint the running
    /// attempt completed, not on the re-commit of the restored one.
    pub fn sink_crash_at_every_point() -> SuiteConfig {
        let faults = vec![
            // Whichever source subtask reads 800 records first: splits are handed out on
            // request, and under load one subtask can take them all (a CI run saw
            // subtask 0 read none, and no crash fired).
            Fault::new("records", FaultPoint::AfterRecords(800)),
            Fault::new("sink", FaultPoint::DuringSnapshot).subtask(1).after_faults(1),
            Fault::new("sink", FaultPoint::AfterCheckpointBeforeCommit)
                .subtask(0)
                .after_faults(2)
                .on_fresh_checkpoint(),
            Fault::new("sink", FaultPoint::DuringCommit).subtask(1).after_faults(3).on_fresh_checkpoint(),
        ];
        SuiteConfig { crashes: faults.len(), faults: Some(faults), ..SuiteConfig::default() }
    }

    /// The source suite with one crash at each protocol point, each armed after the one
    /// before fired and each on whichever subtask gets there first: after 300 records,
    /// while the source snapshots, after a checkpoint completed and before the source
    /// is told (before it acknowledges or commits), and after a checkpoint completed
    /// and before the collecting sink commits (on a checkpoint of the running attempt).
    pub fn source_crash_at_every_point() -> SuiteConfig {
        let faults = vec![
            Fault::new("source", FaultPoint::AfterRecords(300)),
            Fault::new("source", FaultPoint::DuringSnapshot).after_faults(1),
            Fault::new("source", FaultPoint::AfterCheckpointBeforeCommit).after_faults(2),
            Fault::new("collect", FaultPoint::AfterCheckpointBeforeCommit).after_faults(3).on_fresh_checkpoint(),
        ];
        SuiteConfig { crashes: faults.len(), faults: Some(faults), ..SuiteConfig::default() }
    }

    /// [`SuiteConfig::sink_crash_at_every_point`] for a sink without a commit phase
    /// (no committer): after records were written, and while the writer snapshots.
    pub fn writer_crash_at_every_point() -> SuiteConfig {
        let mut config = SuiteConfig::sink_crash_at_every_point();
        let faults: Vec<Fault> = config.faults.take().unwrap_or_default().into_iter().take(2).collect();
        SuiteConfig { crashes: faults.len(), faults: Some(faults), ..config }
    }

    /// The environment of a suite's job: checkpoints at the configured interval, the
    /// configured parallelism, small batches, restarts enough for the planted crashes
    /// and [`SuiteConfig::unplanned_restarts`] more.
    pub(crate) fn env_builder(&self, faults: &FaultInjector) -> Result<StreamEnvironmentBuilder, crate::TestkitError> {
        let restarts = match (self.crashes as u32 + self.unplanned_restarts, self.restart_server.is_some()) {
            (0, false) => RestartStrategy::None,
            (attempts, false) => RestartStrategy::fixed_delay(attempts, RESTART_DELAY),
            // Attempts that fail to reach a server while it restarts must not use up
            // the budget: on a loaded CI machine a container restart took longer than
            // 7 attempts 100 ms apart (a JDBC run failed with the server still down).
            (attempts, true) => RestartStrategy::fixed_delay(attempts + SERVER_DOWN_ATTEMPTS, SERVER_DOWN_DELAY),
        };
        Ok(StreamEnvironment::builder()
            .checkpointing(CheckpointConfig::builder().interval(self.checkpoint_interval).build()?)
            .restart_strategy(restarts)
            .parallelism(self.parallelism)
            .batch_size(64)
            .fault_injector(faults.clone()))
    }

    /// Plant this run's crash plan (printed with its seed) and return the injector.
    pub(crate) fn planted(&self, suite: &str, source: &str, sink: &str, two_phase: bool) -> FaultInjector {
        let plan = CrashPlan::random(self, source, sink, two_phase);
        eprintln!("{suite}: TEST_SEED={} plan={:?}", self.seed, plan.faults);
        let faults = FaultInjector::new();
        plan.plant(&faults);
        faults
    }

    /// How long the test source takes to emit everything.
    pub fn expected_duration(&self) -> Duration {
        Duration::from_secs_f64(self.records as f64 / self.records_per_second)
    }
}

/// Failures beyond the planted crashes a suite's job survives: a real server on a
/// loaded machine may drop a connection or time out a call now and then, and a
/// connector recovers from that by restarting (each one is logged as
/// `attempt failed`). A connector failing on every attempt still ends the run.
pub const UNPLANNED_RESTARTS: u32 = 5;

/// The pause before each restart of a suite's job: long enough for a refused
/// connection or a closing one to clear, short enough for a run with four crashes.
const RESTART_DELAY: Duration = Duration::from_millis(100);

/// With a server restart planned: more restarts, further apart, so that a job whose
/// connector fails at once while the server is down rides out up to 30 s of it.
const SERVER_DOWN_ATTEMPTS: u32 = 60;
const SERVER_DOWN_DELAY: Duration = Duration::from_millis(500);

impl Default for SuiteConfig {
    fn default() -> Self {
        let seed = std::env::var("TEST_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| fastrand::u64(..));
        SuiteConfig {
            records: 5_000,
            crashes: 3,
            parallelism: 2,
            records_per_second: 20_000.0,
            checkpoint_interval: Duration::from_millis(20),
            seed,
            faults: None,
            restart_server: None,
            idle_stall: Duration::from_secs(10),
            network: None,
            unplanned_restarts: UNPLANNED_RESTARTS,
        }
    }
}

/// Network faults to play on a proxy during a suite's run.
#[derive(Debug, Clone)]
pub struct NetworkPlan {
    /// The proxy between the job and its server.
    pub proxy: FaultProxy,
    /// What to play.
    pub fault: NetworkFault,
    /// From the job's start to the first fault.
    pub start_after: Duration,
    /// How long the fault plays before the proxy heals.
    pub duration: Duration,
}

/// Where the crashes of one run go.
#[derive(Debug, Clone)]
pub struct CrashPlan {
    /// The planted faults.
    pub faults: Vec<Fault>,
}

impl CrashPlan {
    /// `config.crashes` faults at random points of stages `source` and `sink`;
    /// commit-phase points only when the sink commits (`two_phase`). The first fault
    /// may fire on any subtask, so that every run crashes at least once.
    pub fn random(config: &SuiteConfig, source: &str, sink: &str, two_phase: bool) -> CrashPlan {
        if let Some(faults) = &config.faults {
            return CrashPlan { faults: faults.clone() };
        }
        let mut rng = fastrand::Rng::with_seed(config.seed);
        let per_subtask = (config.records / config.parallelism as u64 / 2).max(2);
        let faults = (0..config.crashes)
            .map(|i| {
                let kinds = if two_phase { 5 } else { 3 };
                let (stage, point) = match rng.usize(0..kinds) {
                    0 => (source, FaultPoint::AfterRecords(rng.u64(1..per_subtask))),
                    1 => (sink, FaultPoint::AfterRecords(rng.u64(1..per_subtask))),
                    2 => ([source, sink][rng.usize(0..2)], FaultPoint::DuringSnapshot),
                    3 => (sink, FaultPoint::AfterCheckpointBeforeCommit),
                    _ => (sink, FaultPoint::DuringCommit),
                };
                let subtask = rng.usize(0..config.parallelism);
                // The first crash fires on whichever subtask gets there first: splits
                // are handed out on request, so one subtask may read every record, and
                // a plan pinned to the other would not crash at all.
                let fault = Fault::new(stage, point);
                if i == 0 { fault } else { fault.subtask(subtask) }
            })
            .collect();
        CrashPlan { faults }
    }

    /// Plant every fault.
    pub fn plant(&self, injector: &FaultInjector) {
        for fault in &self.faults {
            injector.plant(fault.clone());
        }
    }
}

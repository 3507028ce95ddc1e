//! The network-fault suite: the sink and source suites' jobs run through a
//! [`FaultProxy`] under each standard fault (cuts with short and long refusal,
//! latency, stalls shorter than the operation timeout), and each run must keep the
//! declared guarantee, need no restart, keep checkpointing while the faults play and
//! end within a bound after they stop.
//! A stall longer than the operation timeout must fail the job, naming the timeout.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use stream_core::fault::FaultInjector;
use tokio::time::Instant;

use super::plan::{NetworkPlan, SuiteConfig};
use super::run::{ended, finish_faults, start_faults, wait_for_count};
use super::sink::{SinkTarget, run_sink_suite};
use super::source::{SourceTarget, collecting_job};
use crate::error::TestkitError;
use crate::proxy::{FaultProxy, NetworkFault};
use crate::verdict::Verdict;

/// The network-fault suite of one connector (see the module docs).
#[derive(Debug, Clone)]
pub struct NetworkSuite {
    proxy: FaultProxy,
    faults: Vec<NetworkFault>,
    fault_time: Duration,
    finish_within: Duration,
    records_per_second: f64,
    parallelism: usize,
}

/// From a job's start to the first fault: its clients have connected by then.
const FAULTS_START_AFTER: Duration = Duration::from_millis(500);

/// From a job's start to a stall past the timeout: records are flowing by then.
pub const STALL_AFTER: Duration = Duration::from_secs(1);

impl NetworkSuite {
    /// The standard faults for a connector whose operations time out after
    /// `operation_timeout` (its stalls are shorter than that): cuts every 0.5-1.5 s
    /// with up to 0.2 s of refusal, cuts every 1.5-3 s with 0.5-2 s of refusal, 50 ms
    /// of latency each way, and stalls of a third of the timeout (at most 2 s). Each
    /// plays for 5 s.
    pub fn new(proxy: &FaultProxy, operation_timeout: Duration) -> NetworkSuite {
        let ms = Duration::from_millis;
        let stall = (operation_timeout / 3).min(Duration::from_secs(2));
        NetworkSuite {
            proxy: proxy.clone(),
            faults: vec![
                NetworkFault::Cuts { every: ms(500)..ms(1500), refuse: ms(0)..ms(200) },
                NetworkFault::Cuts { every: ms(1500)..ms(3000), refuse: ms(500)..ms(2000) },
                NetworkFault::Latency(ms(50)),
                NetworkFault::Stalls { every: ms(500)..ms(1000), stall },
            ],
            fault_time: Duration::from_secs(5),
            finish_within: Duration::from_secs(30),
            records_per_second: 500.0,
            parallelism: 2,
        }
    }

    /// The jobs' parallelism (default 2).
    pub fn parallelism(mut self, parallelism: usize) -> NetworkSuite {
        self.parallelism = parallelism;
        self
    }

    /// Play these faults instead of the standard ones.
    pub fn faults(mut self, faults: Vec<NetworkFault>) -> NetworkSuite {
        self.faults = faults;
        self
    }

    /// How long each fault plays (default 5 s); the job spans it.
    pub fn fault_time(mut self, time: Duration) -> NetworkSuite {
        self.fault_time = time;
        self
    }

    /// Records per second the jobs' source sends (default 500; less for a slow test
    /// server).
    pub fn records_per_second(mut self, rate: f64) -> NetworkSuite {
        self.records_per_second = rate;
        self
    }

    /// The bound on the time from the faults' end to the job's (default 30 s).
    pub fn finish_within(mut self, bound: Duration) -> NetworkSuite {
        self.finish_within = bound;
        self
    }

    /// The suite config of one run under `fault`: no planted crash, no restart
    /// allowed, the job spanning the faults.
    pub fn config(&self, fault: &NetworkFault) -> SuiteConfig {
        let span = FAULTS_START_AFTER + self.fault_time + Duration::from_secs(1);
        SuiteConfig {
            records: (self.records_per_second * span.as_secs_f64()) as u64,
            records_per_second: self.records_per_second,
            crashes: 0,
            faults: Some(Vec::new()),
            unplanned_restarts: 0,
            parallelism: self.parallelism,
            checkpoint_interval: Duration::from_millis(200),
            network: Some(NetworkPlan {
                proxy: self.proxy.clone(),
                fault: fault.clone(),
                start_after: FAULTS_START_AFTER,
                duration: self.fault_time,
            }),
            ..SuiteConfig::default()
        }
    }

    /// Run the sink suite once per fault, each on a fresh target from `target` (whose
    /// sink connects through the proxy), and check every verdict.
    pub async fn run_sink<T, F>(&self, target: impl FnMut() -> F) -> Result<Vec<Verdict>, TestkitError>
    where
        T: SinkTarget,
        F: Future<Output = Arc<T>>,
    {
        let run = async |target: Arc<T>, fault: &NetworkFault| run_sink_suite(target, self.config(fault)).await;
        self.each_fault(target, T::guarantee, run).await
    }

    /// Run the paced source run once per fault, each on a fresh target from `target`
    /// (whose source connects through the proxy), and check every verdict: a tenth
    /// of the records is written before the job starts, the rest while the faults
    /// play (directly, not through the proxy), and every record must arrive.
    pub async fn run_source<T, F>(&self, target: impl FnMut() -> F) -> Result<Vec<Verdict>, TestkitError>
    where
        T: SourceTarget,
        F: Future<Output = Arc<T>>,
    {
        let run = async |target: Arc<T>, fault: &NetworkFault| self.paced_source_run(target, fault).await;
        self.each_fault(target, T::guarantee, run).await
    }

    /// `run` once per fault on a fresh target, each verdict checked.
    async fn each_fault<T, F>(
        &self,
        mut target: impl FnMut() -> F,
        guarantee: impl Fn(&T) -> connector_base::DeliveryGuarantee,
        run: impl AsyncFn(Arc<T>, &NetworkFault) -> Result<Verdict, TestkitError>,
    ) -> Result<Vec<Verdict>, TestkitError>
    where
        F: Future<Output = Arc<T>>,
    {
        let mut verdicts = Vec::new();
        for fault in &self.faults {
            let target = target().await;
            let declared = guarantee(&target);
            let verdict = run(target, fault).await.map_err(|e| under(fault, e))?;
            self.check(fault, &verdict, declared)?;
            verdicts.push(verdict);
        }
        Ok(verdicts)
    }

    async fn paced_source_run<T: SourceTarget>(
        &self,
        target: Arc<T>,
        fault: &NetworkFault,
    ) -> Result<Verdict, TestkitError> {
        let config = self.config(fault);
        let sent: Vec<u64> = (0..config.records).collect();
        let (first, rest) = sent.split_at(sent.len() / 10);
        target.prepare(first).await?;
        let collect = stream_core::prelude::CollectSink::new();
        let job = collecting_job(&target, config.env_builder(&FaultInjector::new())?, false, &collect)?;
        let faults = start_faults(&config, job.metrics());
        let handle = job.start("network-source-suite");
        // The rest in batches of a tenth of a second's worth, at the configured rate.
        let batch = ((config.records_per_second / 10.0) as usize).max(1);
        for chunk in rest.chunks(batch) {
            if handle.is_finished() {
                break;
            }
            target.prepare(chunk).await?;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let distinct = || collect.committed().into_iter().collect::<std::collections::HashSet<u64>>().len();
        let limit = self.fault_time + self.finish_within;
        let waiting = wait_for_count(distinct, sent.len(), limit, limit);
        tokio::select! {
            _ = waiting => {}
            _ = ended(&handle) => {}
        }
        let arrived = Instant::now();
        let faults = finish_faults(faults, arrived).await;
        let result = handle.cancel_and_join().await?;
        let mut verdict = Verdict::compare(&sent, &collect.committed(), 0);
        verdict.restarts = result.restarts;
        if let Some(faults) = faults {
            faults.fill(&mut verdict);
        }
        eprintln!("network source suite ({}): {verdict}", target.guarantee());
        Ok(verdict)
    }

    fn check(
        &self,
        fault: &NetworkFault,
        verdict: &Verdict,
        guarantee: connector_base::DeliveryGuarantee,
    ) -> Result<(), TestkitError> {
        eprintln!("network suite under {fault}: {verdict}");
        let mut broken = Vec::new();
        if let Err(e) = verdict.check(guarantee) {
            broken.push(e);
        }
        if verdict.restarts > 0 {
            broken.push(format!("the job restarted {} times", verdict.restarts));
        }
        if verdict.checkpoints_during_faults == Some(0) {
            broken.push("no checkpoint completed while the faults played (the job was stuck)".to_string());
        }
        if verdict.after_faults.is_some_and(|after| after > self.finish_within) {
            broken.push(format!("the job did not end within {:?} of the faults' end", self.finish_within));
        }
        if broken.is_empty() {
            Ok(())
        } else {
            Err(TestkitError::Target(format!("under {fault}: {} ({verdict})", broken.join("; "))))
        }
    }

    /// A sink job writing through the proxy while the proxy stalls for good,
    /// [`STALL_AFTER`] in: the job must fail within `timeout` (the connector's operation
    /// timeout, as configured in `target`'s sink) plus `margin`, with an error that
    /// names `timeout_name`. Returns the time from the stall to the failure.
    pub async fn sink_stall_past_timeout<T: SinkTarget>(
        &self,
        target: Arc<T>,
        timeout: Duration,
        timeout_name: &str,
        margin: Duration,
    ) -> Result<Duration, TestkitError> {
        let stall = NetworkFault::Stalls { every: Duration::ZERO..Duration::ZERO, stall: timeout * 10 };
        let config = SuiteConfig {
            network: Some(NetworkPlan {
                proxy: self.proxy.clone(),
                fault: stall,
                start_after: STALL_AFTER,
                duration: timeout * 10,
            }),
            ..self.config(&NetworkFault::Latency(Duration::ZERO))
        };
        let stalled_at = Instant::now() + STALL_AFTER;
        let outcome = run_sink_suite(target, config).await;
        self.proxy.heal();
        self.proxy.drain(Duration::from_secs(5)).await;
        past_timeout(outcome, stalled_at, timeout, timeout_name, margin)
    }

    /// [`NetworkSuite::sink_stall_past_timeout`] for a source reading through the
    /// proxy (the records are written before the stall, directly).
    pub async fn source_stall_past_timeout<T: SourceTarget>(
        &self,
        target: Arc<T>,
        timeout: Duration,
        timeout_name: &str,
        margin: Duration,
    ) -> Result<Duration, TestkitError> {
        let config = self.config(&NetworkFault::Latency(Duration::ZERO));
        let sent: Vec<u64> = (0..100).collect();
        target.prepare(&sent).await?;
        let collect = stream_core::prelude::CollectSink::new();
        let job = collecting_job(&target, config.env_builder(&FaultInjector::new())?, false, &collect)?;
        let handle = job.start("network-source-stall");
        wait_for_count(|| collect.committed().len(), sent.len(), Duration::from_secs(10), Duration::from_secs(30))
            .await;
        self.proxy.set_stalled(true);
        let started = Instant::now();
        let limit = timeout + margin + Duration::from_secs(5);
        let outcome = match tokio::time::timeout(limit, ended(&handle)).await {
            Ok(()) => handle.join().await.map(|_| ()).map_err(TestkitError::from),
            Err(_) => {
                let _ = handle.cancel_and_join().await;
                Ok(())
            }
        };
        self.proxy.heal();
        self.proxy.drain(Duration::from_secs(5)).await;
        past_timeout(outcome.map(|()| Verdict::compare(&[], &[], 0)), started, timeout, timeout_name, margin)
    }
}

fn under(fault: &NetworkFault, e: TestkitError) -> TestkitError {
    TestkitError::Target(format!("under {fault}: {e}"))
}

/// The check of a stall past the timeout: the run failed, in time, naming it.
fn past_timeout(
    outcome: Result<Verdict, TestkitError>,
    stalled_at: Instant,
    timeout: Duration,
    timeout_name: &str,
    margin: Duration,
) -> Result<Duration, TestkitError> {
    let took = stalled_at.elapsed();
    let error = match outcome {
        Ok(verdict) => {
            return Err(TestkitError::Target(format!(
                "a stall longer than {timeout_name} ({timeout:?}) did not fail the job within {took:?} ({verdict})"
            )));
        }
        Err(e) => e.to_string(),
    };
    eprintln!("stall past {timeout_name}: failed after {took:?}: {error}");
    if !error.contains(timeout_name) {
        return Err(TestkitError::Target(format!("the failure does not name {timeout_name}: {error}")));
    }
    if took > timeout + margin {
        return Err(TestkitError::Target(format!(
            "the job failed after {took:?}, later than {timeout_name} ({timeout:?}) plus {margin:?}: {error}"
        )));
    }
    Ok(took)
}

//! FetcherReader over an in-memory partitioned log, through the testkit's source
//! suites: exactly-once with crashes, bounded and unbounded.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use connector_base::DeliveryGuarantee;
use connector_base::split_reader::{Fetch, FetcherConfig, FetcherReader, SplitFetcher};
use connector_testkit::{SourceTarget, SuiteConfig, TestkitError, run_source_suite, run_unbounded_source_suite};
use stream_core::api::{Boundedness, EnumeratorContext, Source, SourceSplit, SplitEnumerator, TaskContext};

const PARTITIONS: usize = 4;

type Log = Arc<Mutex<Vec<Vec<u64>>>>;

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct PartitionSplit {
    partition: usize,
    offset: usize,
    end: Option<usize>,
}

impl SourceSplit for PartitionSplit {
    fn split_id(&self) -> String {
        format!("p{}", self.partition)
    }
}

struct LogFetcher(Log);

impl SplitFetcher for LogFetcher {
    type Split = PartitionSplit;
    type Record = u64;

    async fn fetch(&mut self, split: &mut PartitionSplit, max: usize) -> stream_core::Result<Fetch<u64>> {
        let records: Vec<u64> = {
            let log = self.0.lock().unwrap();
            let len = split.end.unwrap_or(usize::MAX).min(log[split.partition].len());
            if split.offset >= len {
                return Ok(if split.end.is_some() { Fetch::Finished } else { Fetch::Empty });
            }
            let to = len.min(split.offset + max);
            let records = log[split.partition][split.offset..to].to_vec();
            split.offset = to;
            records
        };
        // About 5 000 records/s per fetcher: the job spans many checkpoints.
        tokio::time::sleep(Duration::from_millis(1)).await;
        Ok(Fetch::Records(records))
    }
}

struct LogSource {
    log: Log,
    bounded: bool,
}

/// Assigns each partition once, to subtask `partition % parallelism`.
struct LogEnumerator {
    log: Log,
    bounded: bool,
    assigned: Vec<usize>,
}

impl Source for LogSource {
    type Output = u64;
    type Split = PartitionSplit;
    type EnumeratorState = Vec<usize>;
    type Enumerator = LogEnumerator;
    type Reader = FetcherReader<LogFetcher>;

    fn boundedness(&self) -> Boundedness {
        if self.bounded { Boundedness::Bounded } else { Boundedness::ContinuousUnbounded }
    }

    async fn create_enumerator(&self, _: usize, restored: Option<Vec<usize>>) -> stream_core::Result<LogEnumerator> {
        Ok(LogEnumerator { log: self.log.clone(), bounded: self.bounded, assigned: restored.unwrap_or_default() })
    }

    async fn create_reader(&self, _: &TaskContext) -> stream_core::Result<FetcherReader<LogFetcher>> {
        let log = self.log.clone();
        let config = FetcherConfig { fetchers: 2, batch_size: 5, ..FetcherConfig::default() };
        FetcherReader::new(config, move || LogFetcher(log.clone()))
    }
}

impl SplitEnumerator for LogEnumerator {
    type Split = PartitionSplit;
    type State = Vec<usize>;

    async fn handle_split_request(
        &mut self,
        subtask: usize,
        ctx: &mut EnumeratorContext<PartitionSplit>,
    ) -> stream_core::Result<()> {
        let ends: Vec<usize> = self.log.lock().unwrap().iter().map(Vec::len).collect();
        let parallelism = ctx.parallelism();
        for partition in (0..PARTITIONS).filter(|p| p % parallelism == subtask) {
            if !self.assigned.contains(&partition) {
                self.assigned.push(partition);
                let end = self.bounded.then_some(ends[partition]);
                ctx.assign_split(subtask, PartitionSplit { partition, offset: 0, end });
            }
        }
        if self.bounded {
            ctx.signal_no_more_splits(subtask);
        }
        Ok(())
    }

    fn add_splits_back(&mut self, splits: Vec<PartitionSplit>, _: usize) {
        self.assigned.retain(|p| !splits.iter().any(|s| s.partition == *p));
    }

    fn snapshot_state(&mut self, _: u64) -> stream_core::Result<Vec<usize>> {
        Ok(self.assigned.clone())
    }
}

struct LogTarget(Log);

impl SourceTarget for LogTarget {
    type Source = LogSource;
    fn guarantee(&self) -> DeliveryGuarantee {
        DeliveryGuarantee::ExactlyOnce
    }
    async fn prepare(&self, ids: &[u64]) -> Result<(), TestkitError> {
        let mut log = self.0.lock().unwrap();
        for id in ids {
            log[(*id as usize) % PARTITIONS].push(*id);
        }
        Ok(())
    }
    fn source(&self, bounded: bool) -> LogSource {
        LogSource { log: self.0.clone(), bounded }
    }
    fn id_of(&self, record: &u64) -> u64 {
        *record
    }
}

fn target() -> Arc<LogTarget> {
    Arc::new(LogTarget(Arc::new(Mutex::new(vec![Vec::new(); PARTITIONS]))))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetcher_reader_is_exactly_once_across_crashes() {
    let verdict =
        run_source_suite(target(), SuiteConfig { records: 4_000, crashes: 3, ..SuiteConfig::default() }).await.unwrap();
    assert!(verdict.crashes >= 1, "{verdict}");
    verdict.check(DeliveryGuarantee::ExactlyOnce).unwrap();
    assert_eq!(verdict.received, 4_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetcher_reader_sees_data_added_while_running() {
    let config = SuiteConfig { records: 3_000, crashes: 2, ..SuiteConfig::default() };
    let verdict = run_unbounded_source_suite(target(), config).await.unwrap();
    verdict.check(DeliveryGuarantee::ExactlyOnce).unwrap();
    assert_eq!(verdict.received, 3_000);
}

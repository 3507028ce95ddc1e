//! FileSource through the testkit suites: exactly-once with crashes for bounded
//! reads, continuous monitoring (files added while the job runs), and a stopped job
//! resuming without re-reading finished files; plain, gzip and zstd files.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use connector_base::DeliveryGuarantee;
use connector_file::{FileSource, TextLines};
use connector_testkit::{
    SourceTarget, SuiteConfig, TestkitError, run_resume_source_suite, run_source_suite, run_unbounded_source_suite,
};

struct Files {
    dir: tempfile::TempDir,
    written: AtomicUsize,
    split_size: Option<u64>,
}

impl Files {
    fn new() -> Arc<Files> {
        Arc::new(Files { dir: tempfile::tempdir().unwrap(), written: AtomicUsize::new(0), split_size: None })
    }

    /// Plain files split into byte ranges of `bytes`.
    fn split_by(bytes: u64) -> Arc<Files> {
        Arc::new(Files { dir: tempfile::tempdir().unwrap(), written: AtomicUsize::new(0), split_size: Some(bytes) })
    }

    /// Write a file appearing complete (hidden name, then rename).
    fn write(&self, name: &str, bytes: Vec<u8>) {
        let path: PathBuf = self.dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let hidden = path.with_file_name(format!(".{}", path.file_name().unwrap().to_string_lossy()));
        std::fs::write(&hidden, bytes).unwrap();
        std::fs::rename(&hidden, &path).unwrap();
    }
}

impl SourceTarget for Files {
    type Source = FileSource<String>;

    fn guarantee(&self) -> DeliveryGuarantee {
        DeliveryGuarantee::ExactlyOnce
    }

    async fn prepare(&self, ids: &[u64]) -> Result<(), TestkitError> {
        let n = self.written.fetch_add(1, Ordering::SeqCst);
        for (name, bytes) in common::mixed_files(n, ids) {
            self.write(&name, bytes);
        }
        Ok(())
    }

    fn source(&self, bounded: bool) -> FileSource<String> {
        let builder = FileSource::builder(self.dir.path(), TextLines).lines_per_batch(10);
        let builder = match self.split_size {
            Some(bytes) => builder.split_size(bytes),
            None => builder,
        };
        let builder = if bounded { builder } else { builder.monitor_continuously(Duration::from_millis(20)) };
        builder.build().unwrap()
    }

    fn id_of(&self, line: &String) -> u64 {
        line.trim_start_matches("record-").parse().unwrap()
    }
}

fn config() -> SuiteConfig {
    SuiteConfig { records: 20_000, crashes: 3, checkpoint_interval: Duration::from_millis(5), ..SuiteConfig::default() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bounded_reads_are_exactly_once_across_crashes() {
    let verdict = run_source_suite(Files::new(), config()).await.unwrap();
    assert!(verdict.crashes >= 1, "{verdict}");
    verdict.check(DeliveryGuarantee::ExactlyOnce).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn byte_range_splits_are_exactly_once_across_crashes() {
    let verdict = run_source_suite(Files::split_by(4_096), config()).await.unwrap();
    assert!(verdict.crashes >= 1, "{verdict}");
    verdict.check(DeliveryGuarantee::ExactlyOnce).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn continuous_monitoring_picks_up_files_added_while_running() {
    let verdict = run_unbounded_source_suite(Files::new(), config()).await.unwrap();
    verdict.check(DeliveryGuarantee::ExactlyOnce).unwrap();
    assert_eq!(verdict.received, 20_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_job_does_not_read_finished_files_again() {
    let verdict = run_resume_source_suite(Files::new(), config()).await.unwrap();
    verdict.check(DeliveryGuarantee::ExactlyOnce).unwrap();
}

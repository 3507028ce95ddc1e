//! The Parquet bulk format: exactly-once through the testkit sink suite with a crash
//! at every protocol point, read back with the parquet reader; bulk formats refuse a
//! size/time rolling policy.
#![cfg(feature = "parquet")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::path::Path;
use std::sync::Arc;

use arrow_array::{Array, StringArray, UInt64Array};
use connector_base::DeliveryGuarantee;
use connector_file::arrow_schema::{DataType, Field, Schema};
use connector_file::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use connector_file::{FileSink, ParquetFormat, RollingPolicy};
use connector_testkit::{SinkTarget, SuiteConfig, TestkitError, run_sink_suite};

#[derive(Debug, Clone, serde::Serialize)]
struct Reading {
    id: u64,
    sensor: String,
}

fn schema() -> Arc<Schema> {
    Arc::new(Schema::new(vec![Field::new("id", DataType::UInt64, false), Field::new("sensor", DataType::Utf8, false)]))
}

use common::files;

/// The readings of every finished Parquet file (each must be a complete file).
fn read_parquet(dir: &Path) -> Vec<Reading> {
    let mut readings = Vec::new();
    for (path, hidden) in files(dir) {
        if hidden {
            continue;
        }
        assert_eq!(path.extension().unwrap(), "parquet");
        let file = std::fs::File::open(dir.join(&path)).unwrap();
        let reader = ParquetRecordBatchReaderBuilder::try_new(file).unwrap().build().unwrap();
        for batch in reader {
            let batch = batch.unwrap();
            let ids = batch.column(0).as_any().downcast_ref::<UInt64Array>().unwrap();
            let sensors = batch.column(1).as_any().downcast_ref::<StringArray>().unwrap();
            for i in 0..batch.num_rows() {
                readings.push(Reading { id: ids.value(i), sensor: sensors.value(i).to_string() });
            }
        }
    }
    readings
}

struct Target(tempfile::TempDir);

impl SinkTarget for Target {
    type Record = Reading;
    type Sink = FileSink<Reading>;

    fn guarantee(&self) -> DeliveryGuarantee {
        DeliveryGuarantee::ExactlyOnce
    }

    fn record(&self, id: u64) -> Reading {
        Reading { id, sensor: format!("sensor-{}", id % 7) }
    }

    fn sink(&self) -> FileSink<Reading> {
        FileSink::bulk_builder(self.0.path(), ParquetFormat::new(schema()).batch_rows(100)).build().unwrap()
    }

    async fn read_back(&self) -> Result<Vec<u64>, TestkitError> {
        let readings = read_parquet(self.0.path());
        assert!(readings.iter().all(|r| r.sensor == format!("sensor-{}", r.id % 7)), "columns kept together");
        Ok(readings.iter().map(|r| r.id).collect())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parquet_sink_is_exactly_once_with_a_crash_at_every_protocol_point() {
    let target = Arc::new(Target(tempfile::tempdir().unwrap()));
    let config = SuiteConfig::sink_crash_at_every_point();
    let verdict = run_sink_suite(target.clone(), config).await.unwrap();
    assert_eq!(verdict.crashes, 4, "{verdict}");
    verdict.check(DeliveryGuarantee::ExactlyOnce).unwrap();
    assert!(files(target.0.path()).iter().all(|(_, hidden)| !hidden), "no hidden part left");
}

#[test]
fn bulk_formats_roll_on_checkpoints_only() {
    let dir = tempfile::tempdir().unwrap();
    let err = FileSink::<Reading>::bulk_builder(dir.path(), ParquetFormat::new(schema()))
        .rolling_policy(RollingPolicy::default())
        .build()
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("`rolling_policy`") && err.contains("every checkpoint only"), "{err}");
}

#[test]
fn a_record_that_does_not_fit_the_schema_is_an_error_naming_the_field() {
    use connector_file::BulkFormat;
    #[derive(serde::Serialize)]
    struct Wrong {
        id: String,
    }
    let format = ParquetFormat::<Wrong>::new(schema()).batch_rows(1);
    let mut writer = format.create_writer().unwrap();
    let err = writer.write(&Wrong { id: "not a number".into() }, &mut Vec::new()).err().unwrap();
    // The Arrow error is kept as the source, and its words are in the message.
    assert!(std::error::Error::source(&err).is_some());
    let err = err.to_string();
    assert!(err.contains("field 'id'") && err.contains("not a number"), "{err}");
}

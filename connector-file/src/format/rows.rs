//! Row formats of the file sink: one record per line.

use connector_base::schema::SchemaError;
use std::fmt::Display;
use std::marker::PhantomData;

use serde::Serialize;

/// Appends one record, with its line terminator, to a buffer.
pub trait RowEncoder<T>: Send + Sync + 'static {
    /// Encode `record` into `out`.
    fn encode(&self, record: &T, out: &mut Vec<u8>) -> Result<(), SchemaError>;

    /// File name extension of the part files (`txt`, `csv`, `jsonl`).
    fn extension(&self) -> &'static str;
}

/// `Display` of each record, one per line.
#[derive(Debug, Clone, Copy, Default)]
pub struct LineEncoder;

impl<T: Display> RowEncoder<T> for LineEncoder {
    fn encode(&self, record: &T, out: &mut Vec<u8>) -> Result<(), SchemaError> {
        use std::io::Write;
        writeln!(out, "{record}").map_err(|e| SchemaError::caused_by("cannot write the line", e))
    }

    fn extension(&self) -> &'static str {
        "txt"
    }
}

/// Each record as a JSON document on its own line.
pub struct JsonLinesEncoder<T>(PhantomData<fn() -> T>);

impl<T> Default for JsonLinesEncoder<T> {
    fn default() -> Self {
        JsonLinesEncoder(PhantomData)
    }
}

impl<T: Serialize + 'static> RowEncoder<T> for JsonLinesEncoder<T> {
    fn encode(&self, record: &T, out: &mut Vec<u8>) -> Result<(), SchemaError> {
        serde_json::to_writer(&mut *out, record).map_err(|e| SchemaError::caused_by("cannot encode as JSON", e))?;
        out.push(b'\n');
        Ok(())
    }

    fn extension(&self) -> &'static str {
        "jsonl"
    }
}

/// Each record as a CSV row (no header line), fields from serde.
pub struct CsvEncoder<T>(PhantomData<fn() -> T>);

impl<T> Default for CsvEncoder<T> {
    fn default() -> Self {
        CsvEncoder(PhantomData)
    }
}

impl<T: Serialize + 'static> RowEncoder<T> for CsvEncoder<T> {
    fn encode(&self, record: &T, out: &mut Vec<u8>) -> Result<(), SchemaError> {
        let mut writer = csv::WriterBuilder::new().has_headers(false).from_writer(&mut *out);
        writer.serialize(record).map_err(|e| SchemaError::caused_by("cannot encode as CSV", e))?;
        writer.flush().map_err(|e| SchemaError::caused_by("cannot write the CSV row", e))
    }

    fn extension(&self) -> &'static str {
        "csv"
    }
}

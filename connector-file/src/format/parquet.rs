//! Parquet through `arrow` (feature `parquet`): records are converted to Arrow rows
//! with serde, gathered into record batches and written as row groups.

use connector_base::schema::SchemaError;
use std::marker::PhantomData;
use std::sync::Arc;

use arrow_json::reader::{Decoder, ReaderBuilder};
use arrow_schema::SchemaRef;
use parquet::arrow::ArrowWriter;
use parquet::file::properties::WriterProperties;
use serde::Serialize;

use super::{BulkFormat, BulkWriter};

/// Writes `T: Serialize` as Parquet with an Arrow schema (fields by name, as serde
/// serializes them).
///
/// ```
/// use std::sync::Arc;
/// use connector_file::{FileSink, ParquetFormat, arrow_schema::{DataType, Field, Schema}};
///
/// #[derive(serde::Serialize)]
/// struct Reading { sensor: String, value: f64 }
///
/// # let dir = tempfile::tempdir().unwrap();
/// let schema = Arc::new(Schema::new(vec![
///     Field::new("sensor", DataType::Utf8, false),
///     Field::new("value", DataType::Float64, false),
/// ]));
/// let sink = FileSink::bulk_builder(dir.path(), ParquetFormat::<Reading>::new(schema)).build().unwrap();
/// ```
pub struct ParquetFormat<T> {
    schema: SchemaRef,
    properties: WriterProperties,
    batch_rows: usize,
    _records: PhantomData<fn(&T)>,
}

impl<T> ParquetFormat<T> {
    /// Parquet with `schema`, default writer properties, 8192 rows per Arrow batch.
    pub fn new(schema: SchemaRef) -> Self {
        ParquetFormat { schema, properties: WriterProperties::default(), batch_rows: 8192, _records: PhantomData }
    }

    /// Compression, row group size, statistics, ... (`parquet`'s `WriterProperties`).
    pub fn properties(mut self, properties: WriterProperties) -> Self {
        self.properties = properties;
        self
    }

    /// Records gathered into one Arrow batch before it is encoded (default 8192; at
    /// least 1).
    pub fn batch_rows(mut self, rows: usize) -> Self {
        self.batch_rows = rows.max(1);
        self
    }
}

struct ParquetWriter {
    decoder: Decoder,
    writer: ArrowWriter<Vec<u8>>,
    batch_rows: usize,
}

impl ParquetWriter {
    fn encode_buffered(&mut self, out: &mut Vec<u8>) -> Result<(), SchemaError> {
        if let Some(batch) = self.decoder.flush().map_err(|e| SchemaError::caused_by("cannot encode as Arrow", e))? {
            self.writer.write(&batch).map_err(|e| SchemaError::caused_by("cannot write Parquet", e))?;
        }
        out.append(self.writer.inner_mut());
        Ok(())
    }
}

impl<T: Serialize + 'static> BulkFormat<T> for ParquetFormat<T> {
    fn extension(&self) -> &'static str {
        "parquet"
    }

    fn create_writer(&self) -> Result<Box<dyn BulkWriter<T>>, SchemaError> {
        let decoder = ReaderBuilder::new(self.schema.clone())
            .with_batch_size(self.batch_rows)
            .build_decoder()
            .map_err(|e| SchemaError::caused_by("cannot start a Parquet file", e))?;
        let writer = ArrowWriter::try_new(Vec::new(), Arc::clone(&self.schema), Some(self.properties.clone()))
            .map_err(|e| SchemaError::caused_by("cannot start a Parquet file", e))?;
        Ok(Box::new(ParquetWriter { decoder, writer, batch_rows: self.batch_rows }))
    }
}

impl<T: Serialize> BulkWriter<T> for ParquetWriter {
    fn write(&mut self, record: &T, out: &mut Vec<u8>) -> Result<(), SchemaError> {
        self.decoder
            .serialize(std::slice::from_ref(record))
            .map_err(|e| SchemaError::caused_by("cannot encode as Arrow", e))?;
        if self.decoder.len() >= self.batch_rows {
            self.encode_buffered(out)?;
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>, out: &mut Vec<u8>) -> Result<(), SchemaError> {
        self.encode_buffered(out)?;
        self.writer.finish().map_err(|e| SchemaError::caused_by("cannot finish the Parquet file", e))?;
        out.append(self.writer.inner_mut());
        Ok(())
    }
}

//! Line formats of the file source: text, CSV (optionally with a header line per
//! file) and JSON lines, each decoding one line into a record.

use connector_base::schema::SchemaError;
use std::marker::PhantomData;
use std::sync::Arc;

use serde::de::DeserializeOwned;

/// Decodes the lines of one file.
pub trait LineFormat<T>: Send + Sync + 'static {
    /// Whether the first line of each file is a header (not a record).
    fn has_header(&self) -> bool {
        false
    }

    /// Decode `line`; `header` is the file's header line when the format has one.
    fn decode(&self, line: &str, header: Option<&str>) -> Result<T, SchemaError>;
}

/// Each line is a `String` (without its line terminator).
#[derive(Debug, Clone, Copy, Default)]
pub struct TextLines;

impl LineFormat<String> for TextLines {
    fn decode(&self, line: &str, _header: Option<&str>) -> Result<String, SchemaError> {
        Ok(line.to_string())
    }
}

/// Each line is a JSON document decoded into `T` with serde.
pub struct JsonLines<T>(PhantomData<fn() -> T>);

impl<T> Default for JsonLines<T> {
    fn default() -> Self {
        JsonLines(PhantomData)
    }
}

impl<T: DeserializeOwned + 'static> LineFormat<T> for JsonLines<T> {
    fn decode(&self, line: &str, _header: Option<&str>) -> Result<T, SchemaError> {
        serde_json::from_str(line).map_err(|e| SchemaError::caused_by("invalid JSON", e))
    }
}

/// Each line is a CSV row decoded into `T` with serde; with a header, fields map by
/// name (the first line of every file), otherwise by position. Quoted fields may not
/// span lines.
pub struct Csv<T> {
    header: bool,
    delimiter: u8,
    _record: PhantomData<fn() -> T>,
}

impl<T> Csv<T> {
    /// CSV with a header line, comma-separated.
    pub fn with_header() -> Self {
        Csv { header: true, delimiter: b',', _record: PhantomData }
    }

    /// CSV without header, comma-separated.
    pub fn without_header() -> Self {
        Csv { header: false, delimiter: b',', _record: PhantomData }
    }

    /// Use another one-byte delimiter (`;`, `\t`, ...).
    pub fn delimiter(mut self, delimiter: u8) -> Self {
        self.delimiter = delimiter;
        self
    }

    fn row(&self, line: &str) -> Result<csv::StringRecord, SchemaError> {
        let mut reader =
            csv::ReaderBuilder::new().has_headers(false).delimiter(self.delimiter).from_reader(line.as_bytes());
        match reader.records().next() {
            Some(Ok(record)) => Ok(record),
            Some(Err(e)) => Err(SchemaError::caused_by("invalid CSV", e)),
            None => Err("empty CSV line".into()),
        }
    }
}

impl<T: DeserializeOwned + 'static> LineFormat<T> for Csv<T> {
    fn has_header(&self) -> bool {
        self.header
    }

    fn decode(&self, line: &str, header: Option<&str>) -> Result<T, SchemaError> {
        let row = self.row(line)?;
        let header = match header {
            Some(h) => Some(self.row(h)?),
            None => None,
        };
        row.deserialize(header.as_ref())
            .map_err(|e| SchemaError::caused_by("CSV row does not match the record type", e))
    }
}

/// A shared format.
pub(crate) type SharedFormat<T> = Arc<dyn LineFormat<T>>;

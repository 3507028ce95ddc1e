//! Rows of the write-ahead mode kept in checkpoint state: each record is bound to the
//! statement's markers when it arrives (so a record that does not fit fails then),
//! and its values are appended to one compact log as the CQL protocol encodes them.
//! Layout of one row: timestamp flag `u8` + `i64` (little-endian), value count `u16`
//! (big-endian), then each value as the protocol's `[value]`: an `i32` length
//! (big-endian; -1 null, -2 unset) and the bytes.

use scylla::errors::SerializationError;
use scylla::serialize::row::{RowSerializationContext, SerializeRow};
use scylla::serialize::writers::RowWriter;
use scylla::statement::prepared::PreparedStatement;
use serde::{Deserialize, Serialize};

/// Rows appended in order.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct RowLog {
    rows: usize,
    #[serde(with = "connector_base::state_bytes")]
    bytes: Vec<u8>,
}

impl std::fmt::Debug for RowLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RowLog").field("rows", &self.rows).field("bytes", &self.bytes.len()).finish()
    }
}

/// One row read back from a [`RowLog`]: the values as bound when it was appended.
#[derive(Debug, Clone)]
pub(crate) struct BoundRow {
    pub timestamp: Option<i64>,
    values: Vec<Option<Option<Vec<u8>>>>,
}

impl RowLog {
    pub fn len(&self) -> usize {
        self.rows
    }

    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Bind `record` to `prepared`'s markers and append its values.
    pub fn append<T: SerializeRow>(
        &mut self,
        prepared: &PreparedStatement,
        record: &T,
        timestamp: Option<i64>,
    ) -> Result<(), SerializationError> {
        let start = self.bytes.len();
        self.bytes.push(u8::from(timestamp.is_some()));
        self.bytes.extend_from_slice(&timestamp.unwrap_or(0).to_le_bytes());
        let count_at = self.bytes.len();
        self.bytes.extend_from_slice(&[0, 0]);
        let specs = prepared.get_variable_col_specs();
        let context = RowSerializationContext::from_specs(specs.as_slice());
        let mut values = Vec::new();
        let mut writer = RowWriter::new(&mut values);
        if let Err(error) = record.serialize(&context, &mut writer) {
            self.bytes.truncate(start);
            return Err(error);
        }
        // The protocol's limit: a statement has at most u16::MAX markers.
        let count = u16::try_from(writer.value_count()).unwrap_or(u16::MAX);
        self.bytes[count_at..count_at + 2].copy_from_slice(&count.to_be_bytes());
        self.bytes.extend_from_slice(&values);
        self.rows += 1;
        Ok(())
    }

    /// The rows in the order they were appended; `Err` names what is damaged.
    pub fn rows(&self) -> Result<Vec<BoundRow>, String> {
        let mut rows = Vec::with_capacity(self.rows);
        let mut rest = self.bytes.as_slice();
        while !rest.is_empty() {
            let flag = take(&mut rest, 1)?[0];
            let timestamp = i64::from_le_bytes(take(&mut rest, 8)?.try_into().map_err(|_| "timestamp")?);
            let count = u16::from_be_bytes(take(&mut rest, 2)?.try_into().map_err(|_| "value count")?);
            let mut values = Vec::with_capacity(usize::from(count));
            for _ in 0..count {
                let len = i32::from_be_bytes(take(&mut rest, 4)?.try_into().map_err(|_| "value length")?);
                values.push(match len {
                    -2 => None,
                    -1 => Some(None),
                    len => Some(Some(take(&mut rest, usize::try_from(len).map_err(|_| "value length")?)?.to_vec())),
                });
            }
            rows.push(BoundRow { timestamp: (flag == 1).then_some(timestamp), values });
        }
        if rows.len() != self.rows {
            return Err(format!("{} rows where {} were written", rows.len(), self.rows));
        }
        Ok(rows)
    }
}

fn take<'a>(rest: &mut &'a [u8], n: usize) -> Result<&'a [u8], String> {
    if rest.len() < n {
        return Err(format!("the log ends {} bytes early", n - rest.len()));
    }
    let (head, tail) = rest.split_at(n);
    *rest = tail;
    Ok(head)
}

impl SerializeRow for BoundRow {
    fn serialize(&self, _ctx: &RowSerializationContext<'_>, writer: &mut RowWriter) -> Result<(), SerializationError> {
        for value in &self.values {
            let cell = writer.make_cell_writer();
            match value {
                None => {
                    cell.set_unset();
                }
                Some(None) => {
                    cell.set_null();
                }
                Some(Some(bytes)) => {
                    cell.set_value(bytes).map_err(SerializationError::new)?;
                }
            }
        }
        Ok(())
    }

    fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One row by hand: a timestamp, a value, a null and an unset.
    fn one_row() -> Vec<u8> {
        let mut bytes = vec![1];
        bytes.extend_from_slice(&42i64.to_le_bytes());
        bytes.extend_from_slice(&3u16.to_be_bytes());
        bytes.extend_from_slice(&2i32.to_be_bytes());
        bytes.extend_from_slice(b"hi");
        bytes.extend_from_slice(&(-1i32).to_be_bytes());
        bytes.extend_from_slice(&(-2i32).to_be_bytes());
        bytes
    }

    #[test]
    fn rows_are_read_back_with_nulls_unsets_and_timestamps() {
        let log = RowLog { rows: 2, bytes: [one_row(), one_row()].concat() };
        let rows = log.rows().unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1].timestamp, Some(42));
        assert_eq!(rows[1].values, vec![Some(Some(b"hi".to_vec())), Some(None), None]);
        let json = serde_json::to_string(&log).unwrap();
        assert_eq!(serde_json::from_str::<RowLog>(&json).unwrap(), log);
    }

    #[test]
    fn a_damaged_log_is_named_not_read_past() {
        let mut bytes = one_row();
        bytes.truncate(bytes.len() - 3);
        let error = RowLog { rows: 1, bytes }.rows().unwrap_err();
        assert!(error.contains("ends") && error.contains("early"), "{error}");
        let error = RowLog { rows: 2, bytes: one_row() }.rows().unwrap_err();
        assert!(error.contains("1 rows where 2"), "{error}");
    }
}

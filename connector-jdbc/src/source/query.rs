//! The SQL the source runs around the user's query: what its key column is, its
//! range, and one page of a split (`key > last AND key < upper ORDER BY key LIMIT n`).

use connector_base::key_range::PageStart;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, Row};

use super::split::{Key, KeyRangeSplit};
use crate::error::{JdbcError, failed};

/// How the key column's values are read, bound and compared.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum KeyKind {
    Int,
    Text,
}

impl KeyKind {
    fn cast(self) -> &'static str {
        match self {
            KeyKind::Int => "bigint",
            KeyKind::Text => "text",
        }
    }
}

/// The user's query and its key column, as found on the server.
#[derive(Debug, Clone)]
pub(crate) struct KeyedQuery {
    pub(crate) query: String,
    pub(crate) key: String,
    pub(crate) kind: KeyKind,
    /// The key's place among the query's columns.
    pub(crate) index: usize,
}

impl KeyedQuery {
    /// Ask the server for the query's columns (nothing is read): the key column must
    /// be one of them, of an integer or text type.
    pub(crate) async fn describe(client: &Client, query: &str, key: &str) -> Result<KeyedQuery, JdbcError> {
        let probe = client
            .prepare(&format!("SELECT * FROM ({query}) AS q LIMIT 0"))
            .await
            .map_err(failed(format!("preparing the source query `{query}`")))?;
        let wanted = key.to_lowercase();
        let names = || probe.columns().iter().map(|c| c.name()).collect::<Vec<_>>().join(", ");
        let problem = |reason: String| JdbcError::Source { query: query.to_string(), reason };
        let Some(index) = probe.columns().iter().position(|c| c.name() == wanted) else {
            return Err(problem(format!("it has no column {key} to page by (its columns: {})", names())));
        };
        let kind = match *probe.columns()[index].type_() {
            Type::INT2 | Type::INT4 | Type::INT8 => KeyKind::Int,
            Type::TEXT | Type::VARCHAR => KeyKind::Text,
            ref other => {
                let reason =
                    format!("its key column {key} is of type {other}; the source pages by an integer or text key");
                return Err(problem(reason));
            }
        };
        Ok(KeyedQuery { query: query.to_string(), key: wanted, kind, index })
    }

    /// The lowest and highest key (`None` when the query has no row).
    pub(crate) async fn int_range(&self, client: &Client) -> Result<Option<(i64, i64)>, JdbcError> {
        let KeyedQuery { query, key, .. } = self;
        let sql = format!("SELECT min(q.{key})::bigint, max(q.{key})::bigint FROM ({query}) AS q");
        let row = client.query_one(&sql, &[]).await.map_err(failed(format!("reading the key range of `{query}`")))?;
        Ok(row.get::<_, Option<i64>>(0).zip(row.get::<_, Option<i64>>(1)))
    }

    /// The next page of `split` (rows after its position, in key order) and its
    /// parameters.
    pub(crate) fn page<'a>(&self, split: &'a KeyRangeSplit, page_size: u32) -> (String, Vec<&'a (dyn ToSql + Sync)>) {
        let (key, cast) = (&self.key, self.kind.cast());
        let mut conditions = vec![format!("q.{key} IS NOT NULL")];
        let mut params: Vec<&(dyn ToSql + Sync)> = Vec::new();
        let mut bound = |op: &str, value: &'a Key, conditions: &mut Vec<String>| {
            params.push(match value {
                Key::Int(n) => n,
                Key::Text(text) => text,
            });
            conditions.push(format!("q.{key} {op} ${}::{cast}", params.len()));
        };
        match split.page_start() {
            Some(PageStart::After(last)) => bound(">", last, &mut conditions),
            Some(PageStart::At(lower)) => bound(">=", lower, &mut conditions),
            None => {}
        }
        if let Some(upper) = &split.upper {
            bound("<", upper, &mut conditions);
        }
        let sql = format!(
            "SELECT * FROM ({}) AS q WHERE {} ORDER BY q.{key} LIMIT {page_size}",
            self.query,
            conditions.join(" AND ")
        );
        (sql, params)
    }

    /// The key of a row of a page.
    pub(crate) fn key_of(&self, row: &Row) -> Result<Key, tokio_postgres::Error> {
        let index = self.index;
        Ok(match (self.kind, row.columns()[index].type_()) {
            (KeyKind::Int, &Type::INT2) => Key::Int(i64::from(row.try_get::<_, i16>(index)?)),
            (KeyKind::Int, &Type::INT4) => Key::Int(i64::from(row.try_get::<_, i32>(index)?)),
            (KeyKind::Int, _) => Key::Int(row.try_get(index)?),
            (KeyKind::Text, _) => Key::Text(row.try_get(index)?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_starts_after_the_position_and_stops_before_the_upper_bound() {
        let query = KeyedQuery { query: "SELECT * FROM t".into(), key: "id".into(), kind: KeyKind::Int, index: 0 };
        let mut split = KeyRangeSplit::between(vec![Key::Int(10)]).remove(1);
        let (sql, params) = query.page(&split, 5);
        assert_eq!(
            sql,
            "SELECT * FROM (SELECT * FROM t) AS q WHERE q.id IS NOT NULL AND q.id >= $1::bigint ORDER BY q.id LIMIT 5"
        );
        assert_eq!(params.len(), 1);
        split.last = Some(Key::Int(12));
        split.upper = Some(Key::Int(20));
        let (sql, params) = query.page(&split, 5);
        assert!(sql.contains("q.id > $1::bigint AND q.id < $2::bigint"), "{sql}");
        assert_eq!(params.len(), 2);
    }
}

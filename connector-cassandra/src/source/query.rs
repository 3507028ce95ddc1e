//! The source's query: checked once, then given a token range per split, as
//! `token(pk) > ? AND token(pk) <= ?` (Murmur3 tokens; the lowest token is never a
//! row's, so ranges are open at the start and closed at the end).

/// A `SELECT ... FROM keyspace.table [WHERE ...] [PER PARTITION LIMIT n] [ALLOW FILTERING]` the source can
/// split by token range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SplittableQuery {
    text: String,
    pub keyspace: String,
    pub table: String,
    /// Byte offsets into `text` of the end of the table name, and of the start of
    /// the `WHERE` conditions and of the tail (`PER PARTITION LIMIT`, `ALLOW
    /// FILTERING`), if any.
    table_end: usize,
    conditions: Option<usize>,
    tail: Option<usize>,
}

/// The position of `word` as a whole word in `lower` (at or after `from`).
fn find_word(lower: &str, word: &str, from: usize) -> Option<usize> {
    let bytes = lower.as_bytes();
    let mut at = from;
    while let Some(found) = lower.get(at..).and_then(|rest| rest.find(word)).map(|i| i + at) {
        let before = found.checked_sub(1).map(|i| bytes[i]);
        let after = bytes.get(found + word.len()).copied();
        let boundary = |b: Option<u8>| b.is_none_or(|b| !(b.is_ascii_alphanumeric() || b == b'_'));
        if boundary(before) && boundary(after) {
            return Some(found);
        }
        at = found + word.len();
    }
    None
}

impl SplittableQuery {
    /// Check `query`; the error says what the source cannot do with it.
    pub fn parse(query: &str) -> Result<SplittableQuery, String> {
        let text = query.trim().trim_end_matches(';').trim_end().to_string();
        let lower = text.to_ascii_lowercase();
        if !lower.starts_with("select") || find_word(&lower, "select", 0) != Some(0) {
            return Err("a SELECT".into());
        }
        let from = find_word(&lower, "from", 0).ok_or("a SELECT ... FROM keyspace.table")?;
        let selected = &lower[6..from];
        for aggregate in ["count", "sum", "avg", "min", "max"] {
            if let Some(at) = find_word(selected, aggregate, 0)
                && selected[at + aggregate.len()..].trim_start().starts_with('(')
            {
                return Err(format!("no aggregate ({aggregate}): each split would aggregate its own range"));
            }
        }
        for (clause, why) in [
            ("order", "no ORDER BY: rows come in token order, split by split"),
            ("group", "no GROUP BY: each split would group its own range"),
            ("token", "no token(): the source adds the token range of each split"),
        ] {
            if find_word(&lower, clause, 0).is_some() {
                return Err(why.into());
            }
        }
        if let Some(limit) = find_word(&lower, "limit", 0)
            && !lower[..limit].trim_end().ends_with("partition")
        {
            return Err("no LIMIT (PER PARTITION LIMIT is fine): each split would apply its own".into());
        }
        let name_start = from + 4 + (lower[from + 4..].len() - lower[from + 4..].trim_start().len());
        let name_len = lower[name_start..].find(|c: char| c.is_whitespace()).unwrap_or(lower.len() - name_start);
        let name = &text[name_start..name_start + name_len];
        let Some((keyspace, table)) = name.split_once('.') else {
            return Err(format!("the keyspace named with the table (FROM keyspace.{name})"));
        };
        let table_end = name_start + name_len;
        let conditions = find_word(&lower, "where", table_end).map(|at| at + "where".len());
        let tail =
            [find_word(&lower, "per", table_end), find_word(&lower, "allow", table_end)].into_iter().flatten().min();
        let between = lower[table_end..conditions.map_or(tail.unwrap_or(lower.len()), |c| c - "where".len())].trim();
        if !between.is_empty() {
            return Err(format!("only WHERE or ALLOW FILTERING after the table, not `{between}`"));
        }
        Ok(SplittableQuery {
            keyspace: keyspace.trim_matches('"').to_string(),
            table: table.trim_matches('"').to_string(),
            text,
            table_end,
            conditions,
            tail,
        })
    }

    /// The query as given (one split reads the whole ring: no token range).
    pub fn whole(&self) -> &str {
        &self.text
    }

    /// The query restricted to a token range, with two markers: after `start`, up to
    /// and including `end`.
    pub fn ranged(&self, partition_key: &[String]) -> String {
        let key = partition_key.join(", ");
        let range = format!("token({key}) > ? AND token({key}) <= ?");
        let tail = self.tail.map(|t| format!(" {}", &self.text[t..])).unwrap_or_default();
        match self.conditions {
            Some(at) => {
                let conditions = self.text[at..self.tail.unwrap_or(self.text.len())].trim();
                format!("{} WHERE {range} AND {conditions}{tail}", &self.text[..self.table_end])
            }
            None => format!("{} WHERE {range}{tail}", &self.text[..self.table_end]),
        }
    }
}

/// `count` token ranges covering the ring: `(start, end]` each, the first starting at
/// the lowest token.
pub(crate) fn token_ranges(count: usize) -> Vec<(i64, i64)> {
    let count = count.max(1) as i128;
    let (low, span) = (i64::MIN as i128, u64::MAX as i128);
    let bound = |k: i128| (low + span * k / count) as i64;
    (0..count).map(|k| (bound(k), bound(k + 1))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_ranges_cover_the_ring_without_gaps() {
        let ranges = token_ranges(7);
        assert_eq!(ranges.first().map(|r| r.0), Some(i64::MIN));
        assert_eq!(ranges.last().map(|r| r.1), Some(i64::MAX));
        assert!(ranges.windows(2).all(|w| w[0].1 == w[1].0 && w[0].0 < w[0].1));
        assert_eq!(token_ranges(1), vec![(i64::MIN, i64::MAX)]);
    }

    #[test]
    fn the_token_range_goes_before_other_conditions_and_allow_filtering() {
        let pk = ["a".to_string(), "b".to_string()];
        let q = SplittableQuery::parse("SELECT id, body FROM ks.t;").unwrap();
        assert_eq!((q.keyspace.as_str(), q.table.as_str()), ("ks", "t"));
        assert_eq!(q.ranged(&pk[..1]), "SELECT id, body FROM ks.t WHERE token(a) > ? AND token(a) <= ?");
        let q = SplittableQuery::parse("select * from ks.t where v = 3 allow filtering").unwrap();
        assert_eq!(
            q.ranged(&pk),
            "select * from ks.t WHERE token(a, b) > ? AND token(a, b) <= ? AND v = 3 allow filtering"
        );
        let q = SplittableQuery::parse("SELECT id FROM ks.t PER PARTITION LIMIT 1").unwrap();
        assert_eq!(
            q.ranged(&pk[..1]),
            "SELECT id FROM ks.t WHERE token(a) > ? AND token(a) <= ? PER PARTITION LIMIT 1"
        );
        assert!(SplittableQuery::parse("SELECT id FROM ks.t JOIN x").unwrap_err().contains("only WHERE"));
        assert!(SplittableQuery::parse("SELECT id FROM ks.t WHERE x = 1 PER PARTITION LIMIT 1").is_ok());
        assert_eq!(SplittableQuery::parse("SELECT min_value FROM ks.t").unwrap().whole(), "SELECT min_value FROM ks.t");
    }

    #[test]
    fn queries_the_source_cannot_split_are_refused_with_the_reason() {
        let refused = |q: &str| SplittableQuery::parse(q).unwrap_err();
        assert!(refused("SELECT count(*) FROM ks.t").contains("aggregate (count)"));
        assert!(refused("SELECT max (v) FROM ks.t").contains("aggregate (max)"));
        assert!(refused("SELECT * FROM ks.t ORDER BY c").contains("ORDER BY"));
        assert!(refused("SELECT * FROM ks.t GROUP BY k").contains("GROUP BY"));
        assert!(refused("SELECT * FROM ks.t LIMIT 10").contains("LIMIT"));
        assert!(refused("SELECT * FROM ks.t WHERE token(k) > 0").contains("token()"));
        assert!(refused("SELECT * FROM t").contains("keyspace"));
        assert!(refused("INSERT INTO ks.t (a) VALUES (1)").contains("SELECT"));
    }
}

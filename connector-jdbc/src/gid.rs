//! The ids of the sink's prepared transactions: `<prefix>:<subtask>:<checkpoint>`.
//! The prefix names one sink (stable across restarts), so that a restart finds its
//! own transactions in `pg_prepared_xacts` and leaves everyone else's alone.

use crate::error::JdbcError;

/// PostgreSQL's limit on a transaction id is 200 bytes; the two numbers take at most
/// 2 + 10 + 20 of them.
const MAX_PREFIX: usize = 160;

/// The id of one prepared transaction.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct Gid {
    /// The sink's prefix.
    pub prefix: String,
    /// The subtask that wrote it.
    pub subtask: u32,
    /// The checkpoint it belongs to.
    pub checkpoint: u64,
}

impl Gid {
    /// Check a prefix: 1 to 160 letters, digits, `_` or `-`.
    pub fn check_prefix(prefix: &str) -> Result<(), JdbcError> {
        let fine = !prefix.is_empty()
            && prefix.len() <= MAX_PREFIX
            && prefix.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if fine {
            Ok(())
        } else {
            Err(JdbcError::Invalid(format!(
                "transaction id prefix {prefix:?}: use 1 to {MAX_PREFIX} letters, digits, _ or -"
            )))
        }
    }

    /// The text PostgreSQL keeps.
    pub fn text(&self) -> String {
        format!("{}:{}:{}", self.prefix, self.subtask, self.checkpoint)
    }

    /// The id `text` stands for, when it is one of `prefix`'s.
    pub fn parse(prefix: &str, text: &str) -> Option<Gid> {
        let rest = text.strip_prefix(prefix)?.strip_prefix(':')?;
        let (subtask, checkpoint) = rest.split_once(':')?;
        Some(Gid { prefix: prefix.into(), subtask: subtask.parse().ok()?, checkpoint: checkpoint.parse().ok()? })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_come_back_from_their_text_and_only_for_their_prefix() {
        let gid = Gid { prefix: "orders-sink".into(), subtask: 3, checkpoint: u64::MAX };
        assert!(gid.text().len() <= 200);
        assert_eq!(Gid::parse("orders-sink", &gid.text()), Some(gid.clone()));
        assert_eq!(Gid::parse("orders", &gid.text()), None, "a prefix of another sink's prefix");
        assert_eq!(Gid::parse("orders-sink", "orders-sink:x:1"), None);
        assert_eq!(Gid::parse("orders-sink", "orders-sink:1:2:3"), None);
    }

    #[test]
    fn prefixes_are_checked() {
        assert!(Gid::check_prefix("orders_sink-1").is_ok());
        for bad in ["", "a:b", "a'b", "a b", &"x".repeat(161)] {
            let error = Gid::check_prefix(bad).unwrap_err().to_string();
            assert!(error.contains("prefix"), "{error}");
        }
    }
}

//! A range of keys and how far it was read: connector-base's `KeyRange` of key
//! values, and where an integer key is cut.

use connector_base::key_range::KeyRange;
use serde::{Deserialize, Serialize};

/// A value of the key column: an integer (of any width) or text.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Key {
    /// `smallint`, `integer` or `bigint`.
    Int(i64),
    /// `text` or `varchar`.
    Text(String),
}

impl std::fmt::Display for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Key::Int(n) => write!(f, "{n}"),
            Key::Text(text) => write!(f, "'{text}'"),
        }
    }
}

/// Rows with `lower <= key < upper` (open where `None`), read in key order; `last` is
/// the key of the last row emitted.
pub type KeyRangeSplit = KeyRange<Key>;

/// `splits - 1` boundaries cutting `lowest..=highest` into ranges of equal width
/// (fewer when the range is narrower than `splits`).
pub(crate) fn even_boundaries(lowest: i64, highest: i64, splits: usize) -> Vec<Key> {
    let width = i128::from(highest) - i128::from(lowest) + 1;
    let splits = (splits.max(1) as i128).min(width.max(1));
    (1..splits)
        .map(|i| lowest as i128 + width * i / splits)
        .filter_map(|bound| i64::try_from(bound).ok().map(Key::Int))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_cover_everything_between_the_boundaries_and_come_back_from_state() {
        let splits = KeyRangeSplit::between(even_boundaries(0, 99, 4));
        let bounds: Vec<_> = splits.iter().map(|s| (s.lower.clone(), s.upper.clone())).collect();
        let int = |n| Some(Key::Int(n));
        assert_eq!(bounds, vec![(None, int(25)), (int(25), int(50)), (int(50), int(75)), (int(75), None)]);
        let mut split = splits[1].clone();
        split.last = Some(Key::Text("b".into()));
        let json = serde_json::to_string(&split).unwrap();
        assert_eq!(serde_json::from_str::<KeyRangeSplit>(&json).unwrap(), split);
    }

    #[test]
    fn narrow_and_extreme_ranges_split_without_overflow() {
        assert_eq!(even_boundaries(5, 6, 8), vec![Key::Int(6)]);
        assert_eq!(even_boundaries(7, 7, 8), Vec::new());
        let wide = even_boundaries(i64::MIN, i64::MAX, 2);
        assert_eq!(wide, vec![Key::Int(0)]);
        assert_eq!(KeyRangeSplit::between(Vec::new()).len(), 1);
    }
}

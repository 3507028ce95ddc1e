//! The split of a bounded source that reads a range of keys in key order, a page at
//! a time, and keeps the key of the last record it emitted as its position (MongoDB's
//! `_id` ranges, a SQL key column's ranges): a restore goes on right after it.

use std::fmt::Debug;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use stream_core::api::SourceSplit;

/// Records with `lower <= key < upper` (open where `None`), read in key order; `last`
/// is the key of the last record emitted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound = "K: Serialize + DeserializeOwned")]
pub struct KeyRange<K> {
    /// Its place among the splits (its id).
    pub index: u32,
    /// The first key of the range (inclusive).
    pub lower: Option<K>,
    /// The end of the range (exclusive).
    pub upper: Option<K>,
    /// The key of the last record read: the next page starts after it.
    pub last: Option<K>,
    /// The last page was read.
    pub done: bool,
}

/// Where the next page of a [`KeyRange`] starts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PageStart<K> {
    /// After this key (the last one read): `key > K`.
    After(K),
    /// At this key (the range's start, nothing read yet): `key >= K`.
    At(K),
}

impl<K: Clone> KeyRange<K> {
    /// Ranges between `boundaries` (sorted): below the first, between each two, from
    /// the last on; one open range when there is none.
    pub fn between(boundaries: Vec<K>) -> Vec<KeyRange<K>> {
        let mut bounds: Vec<Option<K>> = vec![None];
        bounds.extend(boundaries.into_iter().map(Some));
        bounds.push(None);
        bounds
            .windows(2)
            .zip(0u32..)
            .map(|(pair, index)| KeyRange {
                index,
                lower: pair[0].clone(),
                upper: pair[1].clone(),
                last: None,
                done: false,
            })
            .collect()
    }

    /// Where the next page starts (`None`: at the beginning of the keys).
    pub fn page_start(&self) -> Option<PageStart<&K>> {
        match (&self.last, &self.lower) {
            (Some(last), _) => Some(PageStart::After(last)),
            (None, Some(lower)) => Some(PageStart::At(lower)),
            (None, None) => None,
        }
    }
}

impl<K: Clone + Debug + Send + Sync + Serialize + DeserializeOwned + 'static> SourceSplit for KeyRange<K> {
    fn split_id(&self) -> String {
        format!("range-{}", self.index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_cover_everything_between_the_boundaries_and_come_back_from_state() {
        let splits = KeyRange::between(vec![10i64, 20]);
        let bounds: Vec<_> = splits.iter().map(|s| (s.lower, s.upper)).collect();
        assert_eq!(bounds, vec![(None, Some(10)), (Some(10), Some(20)), (Some(20), None)]);
        assert_eq!(KeyRange::<i64>::between(Vec::new()).len(), 1);
        let mut split = splits[1].clone();
        assert_eq!(split.page_start(), Some(PageStart::At(&10)));
        split.last = Some(12);
        assert_eq!(split.page_start(), Some(PageStart::After(&12)));
        assert_eq!(splits[0].page_start(), None);
        let json = serde_json::to_string(&split).unwrap();
        assert_eq!(serde_json::from_str::<KeyRange<i64>>(&json).unwrap(), split);
    }
}

//! A token range of the ring and how far it was read.

use serde::{Deserialize, Serialize};
use stream_core::api::SourceSplit;

/// Rows whose partition token is in `(start, end]` (the whole table when `range` is
/// `None`), and the driver's paging state of the next page to read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRangeSplit {
    /// `(start, end]`, or `None` for one split over the whole ring (no token range
    /// in the query).
    pub range: Option<(i64, i64)>,
    /// Where the next page starts; `None` before the first page.
    #[serde(with = "connector_base::state_bytes::optional", default)]
    pub paging_state: Option<Vec<u8>>,
    /// The last page was read.
    pub done: bool,
    /// Rows read so far (for logs and metrics).
    pub rows_read: u64,
}

impl TokenRangeSplit {
    pub(crate) fn new(range: Option<(i64, i64)>) -> Self {
        TokenRangeSplit { range, paging_state: None, done: false, rows_read: 0 }
    }
}

impl SourceSplit for TokenRangeSplit {
    fn split_id(&self) -> String {
        match self.range {
            Some((start, end)) => format!("tokens({start}..={end})"),
            None => "tokens(all)".into(),
        }
    }
}

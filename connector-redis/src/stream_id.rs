//! Stream entry ids, as the source keeps them and the options name them.

use serde::{Deserialize, Serialize};

/// A stream entry id `<ms>-<seq>`, ordered as Redis orders them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct StreamId {
    /// Milliseconds part.
    pub ms: u64,
    /// Sequence part.
    pub seq: u64,
}

impl StreamId {
    /// The id below every entry.
    pub const ZERO: StreamId = StreamId { ms: 0, seq: 0 };

    /// Parse `<ms>-<seq>` or `<ms>` (sequence 0).
    pub fn parse(text: &str) -> Option<StreamId> {
        let (ms, seq) = text.split_once('-').unwrap_or((text, "0"));
        Some(StreamId { ms: ms.parse().ok()?, seq: seq.parse().ok()? })
    }

    /// The id just below this one (so that an exclusive read starts at this one).
    pub fn before(self) -> StreamId {
        match (self.ms, self.seq) {
            (0, 0) => StreamId::ZERO,
            (ms, 0) => StreamId { ms: ms - 1, seq: u64::MAX },
            (ms, seq) => StreamId { ms, seq: seq - 1 },
        }
    }
}

impl std::fmt::Display for StreamId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_order_and_step_back() {
        let a = StreamId::parse("5-3").unwrap();
        assert_eq!(a, StreamId { ms: 5, seq: 3 });
        assert_eq!(StreamId::parse("7"), Some(StreamId { ms: 7, seq: 0 }));
        assert_eq!(StreamId::parse("x-1"), None);
        assert!(
            StreamId::parse("5-10").unwrap() > a && StreamId::parse("6-0").unwrap() > StreamId::parse("5-99").unwrap()
        );
        assert_eq!(a.before(), StreamId { ms: 5, seq: 2 });
        assert_eq!(StreamId { ms: 5, seq: 0 }.before(), StreamId { ms: 4, seq: u64::MAX });
        assert_eq!(StreamId::ZERO.before(), StreamId::ZERO);
        assert_eq!(a.to_string(), "5-3");
    }
}

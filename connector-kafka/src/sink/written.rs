//! Where the records of one exactly-once transaction landed: per topic-partition, runs
//! of consecutive offsets. This is what the checkpoint keeps of a transaction (a few
//! numbers instead of its records); recovery reads the records back from these offsets
//! if the transaction turns out aborted (see `read_back.rs`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Offsets of delivered records, as runs `(first offset, count)` per topic-partition.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "Stored", into = "Stored")]
pub struct WrittenOffsets {
    topics: Vec<String>,
    runs: BTreeMap<(u32, i32), Vec<(i64, u64)>>,
}

/// One topic-partition's records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PartitionRuns<'a> {
    pub topic: &'a str,
    pub partition: i32,
    /// `(first offset, count)`, in the order the records were delivered.
    pub runs: &'a [(i64, u64)],
}

impl WrittenOffsets {
    /// The index of `topic`, to pass to [`Self::add`].
    pub(crate) fn topic_index(&mut self, topic: &str) -> u32 {
        // Most sinks write one topic: look at the newest first.
        if let Some(i) = self.topics.iter().rposition(|t| t == topic) {
            return i as u32;
        }
        self.topics.push(topic.to_string());
        (self.topics.len() - 1) as u32
    }

    /// Record that a record of topic `topic` (an index from [`Self::topic_index`]) was
    /// delivered to `partition` at `offset`.
    pub(crate) fn add(&mut self, topic: u32, partition: i32, offset: i64) {
        let runs = self.runs.entry((topic, partition)).or_default();
        match runs.last_mut() {
            Some((first, count)) if *first + *count as i64 == offset => *count += 1,
            _ => runs.push((offset, 1)),
        }
    }

    /// Number of records.
    pub fn len(&self) -> u64 {
        self.runs.values().flatten().map(|(_, count)| count).sum()
    }

    /// Whether no record was delivered.
    pub fn is_empty(&self) -> bool {
        self.runs.is_empty()
    }

    /// The topic-partitions and their runs; an error names a topic index the state
    /// does not hold (a corrupt checkpoint).
    pub(crate) fn partitions(&self) -> impl Iterator<Item = Result<PartitionRuns<'_>, String>> + '_ {
        self.runs.iter().map(|((topic, partition), runs)| {
            let name = self
                .topics
                .get(*topic as usize)
                .ok_or_else(|| format!("written offsets name topic #{topic} of {}", self.topics.len()))?;
            Ok(PartitionRuns { topic: name, partition: *partition, runs })
        })
    }
}

/// The stored form: `runs` as `[topic index, partition, first offset, count]`.
#[derive(Serialize, Deserialize)]
struct Stored {
    topics: Vec<String>,
    runs: Vec<(u32, i32, i64, u64)>,
}

impl From<WrittenOffsets> for Stored {
    fn from(w: WrittenOffsets) -> Self {
        let runs = w
            .runs
            .into_iter()
            .flat_map(|((topic, partition), runs)| runs.into_iter().map(move |(first, n)| (topic, partition, first, n)))
            .collect();
        Stored { topics: w.topics, runs }
    }
}

impl From<Stored> for WrittenOffsets {
    fn from(s: Stored) -> Self {
        let mut runs: BTreeMap<(u32, i32), Vec<(i64, u64)>> = BTreeMap::new();
        for (topic, partition, first, n) in s.runs {
            runs.entry((topic, partition)).or_default().push((first, n));
        }
        WrittenOffsets { topics: s.topics, runs }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn consecutive_offsets_become_one_run_and_gaps_start_another() {
        let mut w = WrittenOffsets::default();
        let (a, b) = (w.topic_index("a"), w.topic_index("b"));
        assert_eq!(w.topic_index("a"), a);
        for offset in [10, 11, 12, 15, 16] {
            w.add(a, 0, offset);
        }
        w.add(b, 3, 7);
        w.add(a, 1, 0);
        assert_eq!(w.len(), 7);
        let parts: Vec<_> = w.partitions().map(Result::unwrap).collect();
        assert_eq!(parts[0], PartitionRuns { topic: "a", partition: 0, runs: &[(10, 3), (15, 2)] });
        assert_eq!(parts[1], PartitionRuns { topic: "a", partition: 1, runs: &[(0, 1)] });
        assert_eq!(parts[2], PartitionRuns { topic: "b", partition: 3, runs: &[(7, 1)] });
    }

    #[test]
    fn round_trips_through_checkpoint_json() {
        let mut w = WrittenOffsets::default();
        let t = w.topic_index("out");
        for offset in (0..1000).filter(|o| o % 97 != 0) {
            w.add(t, (offset / 500) as i32, offset);
        }
        let json = serde_json::to_string(&w).unwrap();
        assert!(json.len() < 1000, "runs, not offsets: {json}");
        assert_eq!(serde_json::from_str::<WrittenOffsets>(&json).unwrap(), w);
    }

    #[test]
    fn a_corrupt_topic_index_is_an_error_not_a_panic() {
        let w: WrittenOffsets = serde_json::from_str(r#"{"topics":["a"],"runs":[[4,0,1,2]]}"#).unwrap();
        let err = w.partitions().next().unwrap().unwrap_err();
        assert!(err.contains("topic #4 of 1"), "{err}");
    }
}

//! Which stage's state is which in a checkpoint: state is stored under each stage's
//! uid (`.uid(...)`), or under its place in the graph when it has none, and a restore
//! hands it back by that id, so that a savepoint restores into a changed graph.

use std::collections::{BTreeMap, BTreeSet};

use crate::error::{Result, StreamError};
use crate::stage::StageInfo;
use crate::state::CheckpointData;

/// Task-key prefixes of this job's stages (their ids in the running graph) and the
/// ids their state is stored under.
#[derive(Debug, Clone, Default)]
pub(crate) struct UidMap {
    stored_by_id: BTreeMap<String, String>,
    id_by_stored: BTreeMap<String, String>,
    /// Where the enumerator state of a checkpoint taken before sources kept theirs
    /// under their own keys goes: the only source's key (none with several sources).
    legacy_enumerator_key: Option<String>,
}

impl UidMap {
    /// The map of `stages`; a uid that is empty, holds a `/`, or is given to two
    /// stages is refused. Stateful stages without a uid are warned about once.
    pub(crate) fn new(job: &str, stages: &[StageInfo]) -> Result<Self> {
        let mut map = UidMap::default();
        let mut unnamed = Vec::new();
        let sources: Vec<&StageInfo> = stages.iter().filter(|s| s.source).collect();
        if let [only] = sources.as_slice() {
            map.legacy_enumerator_key = Some(only.enumerator_key());
        }
        for stage in stages {
            if let Some(uid) = &stage.uid
                && (uid.is_empty() || uid.contains('/'))
            {
                return Err(StreamError::invalid("uid", format!("{uid:?}"), "give a non-empty id without `/`"));
            }
            let stored = stage.state_id().to_string();
            if map.id_by_stored.contains_key(&stored) {
                return Err(StreamError::invalid("uid", &stored, "two stages have it; every uid must be unique"));
            }
            if stage.uid.is_none() && stage.stateful {
                unnamed.push(stage.id.clone());
            }
            map.stored_by_id.insert(stage.id.clone(), stored.clone());
            map.id_by_stored.insert(stored, stage.id.clone());
        }
        if !unnamed.is_empty() {
            tracing::warn!(
                job,
                stages = %unnamed.join(", "),
                "stages without a `.uid(...)` store their state under their place in the graph: a checkpoint \
                 taken before the graph changes may not restore into it"
            );
        }
        Ok(map)
    }

    /// `checkpoint` with its task keys turned into the ids its state is stored under.
    pub(crate) fn to_stored(&self, mut checkpoint: CheckpointData) -> CheckpointData {
        checkpoint.tasks = std::mem::take(&mut checkpoint.tasks)
            .into_iter()
            .map(|(key, state)| (rename(&key, &self.stored_by_id), state))
            .collect();
        checkpoint
    }

    /// A stored `checkpoint` with its keys turned into this graph's task keys. State
    /// that no stage takes fails the restore naming its ids, unless `allow_dropping`
    /// (then it is dropped with a warning); empty state (an exchange's) is dropped.
    pub(crate) fn to_running(&self, mut checkpoint: CheckpointData, allow_dropping: bool) -> Result<CheckpointData> {
        let mut unclaimed = BTreeSet::new();
        let mut tasks = BTreeMap::new();
        if let Some(state) = checkpoint.enumerator.take() {
            match &self.legacy_enumerator_key {
                Some(key) => {
                    tasks.insert(key.clone(), state);
                }
                None if state.holds_nothing() => {}
                None => {
                    unclaimed.insert("the source enumerator".to_string());
                }
            }
        }
        for (key, state) in std::mem::take(&mut checkpoint.tasks) {
            let (prefix, _) = split(&key);
            if self.id_by_stored.contains_key(prefix) {
                tasks.insert(rename(&key, &self.id_by_stored), state);
            } else if !state.holds_nothing() {
                unclaimed.insert(prefix.to_string());
            }
        }
        if !unclaimed.is_empty() {
            let uids: Vec<String> = unclaimed.into_iter().collect();
            if !allow_dropping {
                return Err(StreamError::StateNotRestored { checkpoint: checkpoint.id, uids });
            }
            tracing::warn!(checkpoint = checkpoint.id, uids = %uids.join(", "), "state no operator takes is dropped");
        }
        checkpoint.tasks = tasks;
        Ok(checkpoint)
    }
}

/// `"<prefix>/<subtask>"` split at its last `/` (the whole key when there is none).
fn split(key: &str) -> (&str, &str) {
    key.rsplit_once('/').unwrap_or((key, ""))
}

fn rename(key: &str, map: &BTreeMap<String, String>) -> String {
    match split(key) {
        (prefix, subtask) if !subtask.is_empty() => match map.get(prefix) {
            Some(to) => format!("{to}/{subtask}"),
            None => key.to_string(),
        },
        _ => key.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::StateBlob;
    use serde_json::json;

    fn stage(id: &str, uid: Option<&str>, stateful: bool) -> StageInfo {
        StageInfo { uid: uid.map(str::to_string), ..StageInfo::new(id.to_string(), id, 1, stateful) }
    }

    fn checkpoint(tasks: &[(&str, serde_json::Value)]) -> CheckpointData {
        let tasks = tasks.iter().map(|(k, v)| (k.to_string(), StateBlob::encode("t", v).unwrap())).collect();
        CheckpointData { id: 4, timestamp_ms: 0, enumerator: None, tasks }
    }

    #[test]
    fn state_moves_with_its_uid_into_a_changed_graph() {
        let before = UidMap::new("t", &[stage("0-src", Some("src"), true), stage("1-count", Some("count"), true)]);
        let stored = before.unwrap().to_stored(checkpoint(&[("0-src/0", json!([1])), ("1-count/1", json!([[7, 2]]))]));
        assert_eq!(stored.tasks.keys().collect::<Vec<_>>(), ["count/1", "src/0"]);
        let after = UidMap::new(
            "t",
            &[
                stage("0-src", Some("src"), true),
                stage("1-rebalance", None, false),
                stage("2-count", Some("count"), true),
            ],
        )
        .unwrap();
        let running = after.to_running(stored, false).unwrap();
        assert_eq!(running.tasks.keys().collect::<Vec<_>>(), ["0-src/0", "2-count/1"]);
    }

    #[test]
    fn unclaimed_state_fails_the_restore_naming_its_uid_unless_dropping_is_allowed() {
        let map = UidMap::new("t", &[stage("0-src", Some("src"), true)]).unwrap();
        let stored = checkpoint(&[("src/0", json!([1])), ("count/0", json!([[1, 1]])), ("2-rebalance/0", json!(null))]);
        let err = map.to_running(stored.clone(), false).unwrap_err();
        assert!(matches!(&err, StreamError::StateNotRestored { uids, .. } if uids == &["count".to_string()]), "{err}");
        assert!(err.is_permanent() && err.to_string().contains("allow_non_restored_state"), "{err}");
        let kept = map.to_running(stored, true).unwrap();
        assert_eq!(kept.tasks.keys().collect::<Vec<_>>(), ["0-src/0"]);
    }

    #[test]
    fn bad_and_repeated_uids_are_refused_naming_them() {
        let twice = UidMap::new("t", &[stage("0-a", Some("x"), true), stage("1-b", Some("x"), true)]).unwrap_err();
        assert!(twice.to_string().contains("\"x\"") || twice.to_string().contains("x"), "{twice}");
        assert!(twice.to_string().contains("unique"), "{twice}");
        let slash = UidMap::new("t", &[stage("0-a", Some("a/b"), true)]).unwrap_err();
        assert!(slash.to_string().contains("a/b"), "{slash}");
        assert!(UidMap::new("t", &[stage("0-a", Some(""), true)]).is_err());
        // Without uids, state keeps its place in the graph.
        let plain = UidMap::new("t", &[stage("0-a", None, true)]).unwrap();
        let stored = plain.to_stored(checkpoint(&[("0-a/0", json!(1))]));
        assert_eq!(plain.to_running(stored, false).unwrap().tasks.keys().collect::<Vec<_>>(), ["0-a/0"]);
    }
}

//! What the job graph and the runtime both know of a stage, and how the stages of
//! a job's branches become one table.

use std::collections::{BTreeMap, BTreeSet};

use crate::error::{Result, StreamError};

/// Name, ids and parallelism of a stage (a group of subtasks).
#[derive(Debug, Clone)]
pub(crate) struct StageInfo {
    /// Its identity while the job is defined (1, 2, ... in order of definition; 0
    /// for stages the runtime adds, which are not in the job's table).
    pub(crate) seq: u64,
    /// The id the graph gives it from its place (`"<position>-<name>"`): the prefix of
    /// its task keys while the job runs.
    pub(crate) id: String,
    /// The id its state is stored under, when the user gave one (`.uid(...)`); without
    /// one, state is stored under [`StageInfo::id`].
    pub(crate) uid: Option<String>,
    pub(crate) name: String,
    pub(crate) parallelism: usize,
    /// Whether its tasks keep state of their own (an exchange keeps none).
    pub(crate) stateful: bool,
    /// Whether it is a source (its enumerator's state is stored under its id).
    pub(crate) source: bool,
}

impl StageInfo {
    pub(crate) fn new(id: String, name: &str, parallelism: usize, stateful: bool) -> Self {
        StageInfo { seq: 0, id, uid: None, name: name.to_string(), parallelism, stateful, source: false }
    }

    pub(crate) fn task_key(&self, subtask: usize) -> String {
        format!("{}/{subtask}", self.id)
    }

    /// The key a source stage's enumerator state is kept under in a checkpoint.
    pub(crate) fn enumerator_key(&self) -> String {
        format!("{}/enumerator", self.id)
    }

    /// The id its state is stored under.
    pub(crate) fn state_id(&self) -> &str {
        self.uid.as_deref().unwrap_or(&self.id)
    }
}

/// The stages of a job, each once, from the copies its branches hold (a stream used
/// by two operators appears in both branches). Copies of one stage that disagree (a
/// parallelism or uid set on one branch only) are refused; two stages whose place
/// gives them the same id (two sources of one name) get `#2`, `#3`... in order of
/// definition, so the ids are the same at every run of the same program.
pub(crate) fn resolve(copies: &[StageInfo]) -> Result<BTreeMap<u64, StageInfo>> {
    let mut table: BTreeMap<u64, StageInfo> = BTreeMap::new();
    for copy in copies {
        let Some(known) = table.get_mut(&copy.seq) else {
            table.insert(copy.seq, copy.clone());
            continue;
        };
        if known.parallelism != copy.parallelism {
            return Err(StreamError::invalid(
                "parallelism",
                format!("{} and {}", known.parallelism, copy.parallelism),
                format!(
                    "stage `{}` feeds several operators and was given a parallelism after the stream was \
                     used twice; set it before using the stream again",
                    known.name
                ),
            ));
        }
        match (&known.uid, &copy.uid) {
            (Some(a), Some(b)) if a != b => {
                return Err(StreamError::invalid(
                    "uid",
                    format!("{a:?} and {b:?}"),
                    format!("stage `{}` was given two uids on two branches; give it one", known.name),
                ));
            }
            (None, Some(uid)) => known.uid = Some(uid.clone()),
            _ => {}
        }
    }
    let mut taken = BTreeSet::new();
    for stage in table.values_mut() {
        let mut id = stage.id.clone();
        let mut n = 1;
        while !taken.insert(id.clone()) {
            n += 1;
            id = format!("{}#{n}", stage.id);
        }
        stage.id = id;
    }
    Ok(table)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stage(seq: u64, id: &str, parallelism: usize) -> StageInfo {
        StageInfo { seq, ..StageInfo::new(id.to_string(), id, parallelism, true) }
    }

    #[test]
    fn copies_of_a_stage_become_one_and_same_place_ids_are_numbered() {
        let mut with_uid = stage(1, "0-numbers", 2);
        with_uid.uid = Some("numbers".into());
        let table =
            resolve(&[stage(1, "0-numbers", 2), stage(2, "0-numbers", 1), with_uid, stage(3, "1-count", 2)]).unwrap();
        let ids: Vec<(&str, Option<&str>)> = table.values().map(|s| (s.id.as_str(), s.uid.as_deref())).collect();
        assert_eq!(ids, [("0-numbers", Some("numbers")), ("0-numbers#2", None), ("1-count", None)]);
    }

    #[test]
    fn copies_that_disagree_are_refused_naming_the_stage() {
        let err = resolve(&[stage(1, "0-numbers", 2), stage(1, "0-numbers", 3)]).unwrap_err();
        assert!(err.to_string().contains("0-numbers") && err.to_string().contains("2 and 3"), "{err}");
        let (mut a, mut b) = (stage(1, "0-n", 1), stage(1, "0-n", 1));
        a.uid = Some("a".into());
        b.uid = Some("b".into());
        assert!(resolve(&[a, b]).unwrap_err().to_string().contains("two uids"));
    }
}

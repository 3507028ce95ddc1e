//! What the job graph and the runtime both know of a stage.

/// Name, stable id and parallelism of a stage (a group of subtasks).
#[derive(Debug, Clone)]
pub(crate) struct StageInfo {
    pub(crate) uid: String,
    pub(crate) name: String,
    pub(crate) parallelism: usize,
}

impl StageInfo {
    pub(crate) fn task_key(&self, subtask: usize) -> String {
        format!("{}/{subtask}", self.uid)
    }
}

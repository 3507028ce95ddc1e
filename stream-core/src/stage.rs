//! What the job graph and the runtime both know of a stage.

/// Name, ids and parallelism of a stage (a group of subtasks).
#[derive(Debug, Clone)]
pub(crate) struct StageInfo {
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
}

impl StageInfo {
    pub(crate) fn new(id: String, name: &str, parallelism: usize, stateful: bool) -> Self {
        StageInfo { id, uid: None, name: name.to_string(), parallelism, stateful }
    }

    pub(crate) fn task_key(&self, subtask: usize) -> String {
        format!("{}/{subtask}", self.id)
    }

    /// The id its state is stored under.
    pub(crate) fn state_id(&self) -> &str {
        self.uid.as_deref().unwrap_or(&self.id)
    }
}

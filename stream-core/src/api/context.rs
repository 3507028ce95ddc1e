//! What the runtime tells connectors about where they run.

/// Identity of one subtask in one execution attempt.
#[derive(Debug, Clone)]
pub struct TaskContext {
    /// Stable stage identifier (`<index>-<name>`), the same across attempts and runs
    /// of the same job graph; checkpointed state is keyed by it.
    pub stage: String,
    /// The stage's name as given when the job was built (metrics, fault injection).
    pub name: String,
    /// Index of this subtask, `0..parallelism`.
    pub subtask: usize,
    /// Number of subtasks of this stage.
    pub parallelism: usize,
    /// Attempt number within this process (0 for the first run).
    pub attempt: u32,
    /// Unique per attempt and per process run: use it to name things a dead attempt
    /// may leave behind (in-progress files, transactional ids).
    pub attempt_id: String,
    /// The checkpoint this attempt restored from, if any.
    pub restored_checkpoint: Option<u64>,
}

/// Handle the runtime gives a [`super::SplitEnumerator`] to hand out splits.
#[derive(Debug)]
pub struct EnumeratorContext<S> {
    parallelism: usize,
    pub(crate) assignments: Vec<(usize, S)>,
    pub(crate) no_more_splits: Vec<usize>,
}

impl<S> EnumeratorContext<S> {
    /// A context for `parallelism` readers. The runtime makes one per source;
    /// composite enumerators (such as a hybrid source) make one per inner enumerator.
    pub fn new(parallelism: usize) -> Self {
        EnumeratorContext { parallelism, assignments: Vec::new(), no_more_splits: Vec::new() }
    }

    /// Take the assignments made since the last call (composite enumerators).
    pub fn take_assignments(&mut self) -> Vec<(usize, S)> {
        std::mem::take(&mut self.assignments)
    }

    /// Take the "no more splits" signals made since the last call (composite enumerators).
    pub fn take_no_more_splits(&mut self) -> Vec<usize> {
        std::mem::take(&mut self.no_more_splits)
    }

    /// Number of reader subtasks.
    pub fn parallelism(&self) -> usize {
        self.parallelism
    }

    /// Give `split` to reader `subtask`.
    pub fn assign_split(&mut self, subtask: usize, split: S) {
        self.assignments.push((subtask, split));
    }

    /// Tell reader `subtask` that it will get no further splits (bounded sources).
    pub fn signal_no_more_splits(&mut self, subtask: usize) {
        self.no_more_splits.push(subtask);
    }
}

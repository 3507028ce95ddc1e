//! What the runtime tells connectors about where they run.

use metrics::Label;

use crate::metrics::{SinkMetrics, SourceMetrics};
use crate::replica::Replica;

/// Identity of one subtask in one execution attempt.
///
/// `Default` gives a context for tests that drive a reader or writer by hand.
#[derive(Debug, Clone, Default)]
pub struct TaskContext {
    /// The job's name (the `job` label of metrics).
    pub job: String,
    /// For source and sink stages, the connector's name ([`super::Source::connector_name`],
    /// [`super::Sink::connector_name`]): the `connector` label of metrics.
    pub connector: &'static str,
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
    /// Which of the job's processes runs this task (see [`Replica`]).
    pub replica: Replica,
}

impl TaskContext {
    fn metric_labels(&self) -> [Label; 4] {
        [
            Label::new("job", self.job.clone()),
            Label::new("stage", self.name.clone()),
            Label::new("subtask", self.subtask.to_string()),
            Label::new("connector", self.connector),
        ]
    }

    /// This reader subtask's FLIP-33 source metrics, labelled `job`, `stage`,
    /// `subtask` and `connector`.
    pub fn source_metrics(&self) -> SourceMetrics {
        SourceMetrics::new(&self.metric_labels())
    }

    /// This writer subtask's FLIP-33 sink metrics, labelled `job`, `stage`,
    /// `subtask` and `connector`.
    pub fn sink_metrics(&self) -> SinkMetrics {
        SinkMetrics::new(&self.metric_labels())
    }
}

/// Handle the runtime gives a [`super::SplitEnumerator`] to hand out splits.
#[derive(Debug)]
pub struct EnumeratorContext<S> {
    parallelism: usize,
    replica: Replica,
    pub(crate) assignments: Vec<(usize, S)>,
    pub(crate) no_more_splits: Vec<usize>,
}

impl<S> EnumeratorContext<S> {
    /// A context for `parallelism` readers. The runtime makes one per source;
    /// composite enumerators (such as a hybrid source) make one per inner enumerator.
    pub fn new(parallelism: usize) -> Self {
        EnumeratorContext { parallelism, replica: Replica::SINGLE, assignments: Vec::new(), no_more_splits: Vec::new() }
    }

    /// The same context for the readers of `replica`, which own only its splits.
    pub fn with_replica(mut self, replica: Replica) -> Self {
        self.replica = replica;
        self
    }

    /// Which of the job's processes this enumerator runs in: it discovers and
    /// assigns only the splits this replica [owns](Replica::owns).
    pub fn replica(&self) -> Replica {
        self.replica
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

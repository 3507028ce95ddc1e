//! One consumer split per subtask (competing consumers on the queue), by
//! connector-base's per-subtask enumerator; exactly-once allows only one.

use connector_base::DeliveryGuarantee;
use connector_base::per_subtask::{PerSubtaskEnumerator, PerSubtaskState};
use stream_core::Result;

use super::split::QueueSplit;

/// Checkpointed state: splits not yet handed out.
pub type RabbitMqEnumeratorState = PerSubtaskState<QueueSplit>;

/// The enumerator.
pub type RabbitMqEnumerator = PerSubtaskEnumerator<QueueSplit>;

pub(crate) fn new(
    queue: &str,
    guarantee: DeliveryGuarantee,
    parallelism: usize,
    restored: Option<RabbitMqEnumeratorState>,
) -> Result<RabbitMqEnumerator> {
    let single_reader = (guarantee == DeliveryGuarantee::ExactlyOnce).then_some(
        "an exactly-once RabbitMQ source de-duplicates in one consumer: give its stage parallelism 1 \
         (set_parallelism(1) on the source), or use at-least-once",
    );
    PerSubtaskEnumerator::new(parallelism, restored, single_reader, |subtask| QueueSplit {
        queue: queue.to_string(),
        subtask,
        unacknowledged_ids: Vec::new(),
    })
}

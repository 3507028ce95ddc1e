//! One subscriber split per subtask (several subscribers share a subscription, as
//! Pub/Sub's own clients do), by connector-base's per-subtask enumerator;
//! exactly-once allows only one.

use connector_base::DeliveryGuarantee;
use connector_base::per_subtask::{PerSubtaskEnumerator, PerSubtaskState};
use stream_core::Result;

use super::split::SubscriptionSplit;

/// Checkpointed state: splits not yet handed out.
pub type PubSubEnumeratorState = PerSubtaskState<SubscriptionSplit>;

/// The enumerator.
pub type PubSubEnumerator = PerSubtaskEnumerator<SubscriptionSplit>;

pub(crate) fn new(
    subscription: &str,
    guarantee: DeliveryGuarantee,
    parallelism: usize,
    restored: Option<PubSubEnumeratorState>,
) -> Result<PubSubEnumerator> {
    let single_reader = (guarantee == DeliveryGuarantee::ExactlyOnce).then_some(
        "an exactly-once Pub/Sub source drops redeliveries by id in one subscriber (a redelivery may go to any \
         subscriber of the subscription): give its stage parallelism 1, or use at-least-once",
    );
    PerSubtaskEnumerator::new(parallelism, restored, single_reader, |subtask| SubscriptionSplit {
        subscription: subscription.to_string(),
        subtask,
        unconfirmed_ids: Vec::new(),
    })
}

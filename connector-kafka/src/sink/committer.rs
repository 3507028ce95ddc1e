//! Commits pre-committed transactions (exactly-once); see `transaction.rs` for what
//! happens after a restart.

use std::sync::Arc;

use stream_core::Result;
use stream_core::api::Committer;

use super::transaction::{KafkaCommittable, Transactions};

/// The committer of one sink subtask.
pub struct KafkaCommitter {
    pub(crate) transactions: Option<Arc<Transactions>>,
    pub(crate) attempt: String,
}

impl Committer for KafkaCommitter {
    type Committable = KafkaCommittable;

    async fn commit(&mut self, committables: &[KafkaCommittable]) -> Result<()> {
        let Some(txns) = &self.transactions else { return Ok(()) };
        for committable in committables {
            txns.commit(committable, &self.attempt).await?;
        }
        Ok(())
    }
}

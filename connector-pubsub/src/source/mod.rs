//! [`crate::PubSubSource`]: subscribers sharing one subscription, one per subtask;
//! messages acknowledged when the checkpoint that covers them completes.

mod enumerator;
mod reader;
mod split;

use stream_core::Result;
use stream_core::api::{Boundedness, Source, TaskContext};

pub use enumerator::{PubSubEnumerator, PubSubEnumeratorState};
pub use reader::PubSubReader;
pub use split::SubscriptionSplit;

use crate::config::PubSubSource;

impl<T: Send + 'static> Source for PubSubSource<T> {
    type Output = T;
    type Split = SubscriptionSplit;
    type EnumeratorState = PubSubEnumeratorState;
    type Enumerator = PubSubEnumerator;
    type Reader = PubSubReader<T>;

    fn connector_name(&self) -> &'static str {
        "pubsub"
    }

    fn boundedness(&self) -> Boundedness {
        if self.end_of_stream.is_some() { Boundedness::Bounded } else { Boundedness::ContinuousUnbounded }
    }

    async fn create_enumerator(
        &self,
        parallelism: usize,
        restored: Option<PubSubEnumeratorState>,
    ) -> Result<PubSubEnumerator> {
        enumerator::new(&self.subscription, self.guarantee, parallelism, restored)
    }

    async fn create_reader(&self, _ctx: &TaskContext) -> Result<PubSubReader<T>> {
        Ok(PubSubReader::new(self))
    }
}

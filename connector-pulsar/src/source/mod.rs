//! The Pulsar source (exactly-once): splits are topic partitions, positions are
//! message ids in checkpoint state, acknowledged cumulatively once checkpointed.

mod enumerator;
mod reader;
mod split;

pub use enumerator::{PulsarEnumerator, PulsarEnumeratorState};
pub use reader::PulsarReader;
pub use split::{PulsarSplit, Stop};

use stream_core::Result;
use stream_core::api::{Boundedness, Source, TaskContext};

use crate::config::PulsarSource;

impl<T: Send + 'static> Source for PulsarSource<T> {
    type Output = T;
    type Split = PulsarSplit;
    type EnumeratorState = PulsarEnumeratorState;
    type Enumerator = PulsarEnumerator;
    type Reader = PulsarReader<T>;

    fn connector_name(&self) -> &'static str {
        "pulsar"
    }

    fn boundedness(&self) -> Boundedness {
        if self.stop.is_some() { Boundedness::Bounded } else { Boundedness::ContinuousUnbounded }
    }

    async fn create_enumerator(
        &self,
        parallelism: usize,
        restored: Option<PulsarEnumeratorState>,
    ) -> Result<PulsarEnumerator> {
        PulsarEnumerator::new(self, parallelism, restored.unwrap_or_default()).await
    }

    async fn create_reader(&self, ctx: &TaskContext) -> Result<PulsarReader<T>> {
        PulsarReader::new(self, ctx).await
    }
}

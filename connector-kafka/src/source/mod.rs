//! The Kafka source (exactly-once): splits are topic-partitions, positions are
//! offsets in checkpoint state.

mod enumerator;
mod outage;
mod reader;
mod split;

pub use enumerator::{KafkaEnumerator, KafkaEnumeratorState};
pub use reader::KafkaReader;
pub use split::KafkaSplit;

use stream_core::Result;
use stream_core::api::{Boundedness, Source, TaskContext};

use crate::config::KafkaSource;

impl<T: Send + 'static> Source for KafkaSource<T> {
    type Output = T;
    type Split = KafkaSplit;
    type EnumeratorState = KafkaEnumeratorState;
    type Enumerator = KafkaEnumerator;
    type Reader = KafkaReader<T>;

    fn connector_name(&self) -> &'static str {
        "kafka"
    }

    fn boundedness(&self) -> Boundedness {
        if self.stopping.is_some() { Boundedness::Bounded } else { Boundedness::ContinuousUnbounded }
    }

    async fn create_enumerator(
        &self,
        parallelism: usize,
        restored: Option<KafkaEnumeratorState>,
    ) -> Result<KafkaEnumerator> {
        KafkaEnumerator::new(self, parallelism, restored.unwrap_or_default())
    }

    async fn create_reader(&self, ctx: &TaskContext) -> Result<KafkaReader<T>> {
        KafkaReader::new(self, ctx)
    }
}

//! [`crate::RabbitMqSource`]: competing consumers on one queue, one per subtask.

mod enumerator;
mod reader;
mod split;

use stream_core::Result;
use stream_core::api::{Boundedness, Source, TaskContext};

pub use enumerator::{RabbitMqEnumerator, RabbitMqEnumeratorState};
pub use reader::RabbitMqReader;
pub use split::QueueSplit;

use crate::config::RabbitMqSource;

impl<T: Send + 'static> Source for RabbitMqSource<T> {
    type Output = T;
    type Split = QueueSplit;
    type EnumeratorState = RabbitMqEnumeratorState;
    type Enumerator = RabbitMqEnumerator;
    type Reader = RabbitMqReader<T>;

    fn connector_name(&self) -> &'static str {
        "rabbitmq"
    }

    fn boundedness(&self) -> Boundedness {
        Boundedness::ContinuousUnbounded
    }

    async fn create_enumerator(
        &self,
        parallelism: usize,
        restored: Option<RabbitMqEnumeratorState>,
    ) -> Result<RabbitMqEnumerator> {
        enumerator::new(&self.queue, self.guarantee, parallelism, restored)
    }

    async fn create_reader(&self, _ctx: &TaskContext) -> Result<RabbitMqReader<T>> {
        Ok(RabbitMqReader::new(self))
    }
}

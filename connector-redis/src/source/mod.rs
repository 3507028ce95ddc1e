//! [`crate::RedisStreamsSource`]: one split per stream key, the last delivered id in
//! checkpoint state (exactly-once), or a consumer group acknowledged on checkpoint
//! completion (at-least-once).

mod entry;
mod enumerator;
mod fetcher;
mod reader;
mod split;

use stream_core::Result;
use stream_core::api::{Boundedness, Source, TaskContext};

pub use entry::StreamEntry;
pub use enumerator::{RedisStreamsEnumerator, RedisStreamsEnumeratorState};
pub use fetcher::StreamFetcher;
pub use reader::RedisStreamsReader;
pub use split::StreamSplit;

use crate::config::RedisStreamsSource;

impl Source for RedisStreamsSource {
    type Output = StreamEntry;
    type Split = StreamSplit;
    type EnumeratorState = RedisStreamsEnumeratorState;
    type Enumerator = RedisStreamsEnumerator;
    type Reader = RedisStreamsReader;

    fn connector_name(&self) -> &'static str {
        "redis"
    }

    fn boundedness(&self) -> Boundedness {
        if self.bounded { Boundedness::Bounded } else { Boundedness::ContinuousUnbounded }
    }

    async fn create_enumerator(
        &self,
        parallelism: usize,
        restored: Option<RedisStreamsEnumeratorState>,
    ) -> Result<RedisStreamsEnumerator> {
        RedisStreamsEnumerator::new(self.clone(), parallelism, restored).await
    }

    async fn create_reader(&self, _ctx: &TaskContext) -> Result<RedisStreamsReader> {
        RedisStreamsReader::new(self).await
    }
}

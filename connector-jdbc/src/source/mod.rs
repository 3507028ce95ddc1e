//! [`crate::JdbcSource`]: a bounded read of a query split into key ranges;
//! exactly-once (each split's position is the key of the last row it emitted).

mod fetcher;
mod query;
mod split;
mod splitter;

pub use fetcher::KeysetFetcher;
pub use split::{Key, KeyRangeSplit};

use connector_base::schema::BadRecords;
use connector_base::split_reader::{FetcherConfig, FetcherReader};
use stream_core::Result;
use stream_core::api::{Boundedness, Source, TaskContext};
use stream_core::builtin::FixedSplitEnumerator;

use crate::config::JdbcSource;
use crate::error::transient;

impl<T: Send + 'static> Source for JdbcSource<T> {
    type Output = T;
    type Split = KeyRangeSplit;
    type EnumeratorState = Vec<KeyRangeSplit>;
    type Enumerator = FixedSplitEnumerator<KeyRangeSplit>;
    type Reader = FetcherReader<KeysetFetcher<T>>;

    fn connector_name(&self) -> &'static str {
        "jdbc"
    }

    fn boundedness(&self) -> Boundedness {
        Boundedness::Bounded
    }

    async fn create_enumerator(
        &self,
        parallelism: usize,
        restored: Option<Vec<KeyRangeSplit>>,
    ) -> Result<FixedSplitEnumerator<KeyRangeSplit>> {
        if let Some(remaining) = restored {
            return Ok(FixedSplitEnumerator::new(remaining));
        }
        let count = self.splits.unwrap_or(4 * parallelism.max(1));
        let split = || {
            self.connection.within("splitting the source query", async {
                let client = self.connection.connect().await?;
                splitter::splits(&client, &self.query, &self.key_column, count).await
            })
        };
        let splits = self.retry.retry("splitting the source query", split, transient).await?;
        Ok(FixedSplitEnumerator::new(splits))
    }

    async fn create_reader(&self, _ctx: &TaskContext) -> Result<FetcherReader<KeysetFetcher<T>>> {
        let config = FetcherConfig { batch_size: self.page_size as usize, ..FetcherConfig::default() };
        let (connection, query, key_column) = (self.connection.clone(), self.query.clone(), self.key_column.clone());
        let (page_size, decode, retry) = (self.page_size, self.decode.clone(), self.retry.clone());
        let bad = BadRecords::new(self.bad_records.clone());
        FetcherReader::new(config, move || KeysetFetcher {
            connection: connection.clone(),
            query: query.clone(),
            key_column: key_column.clone(),
            page_size,
            decode: decode.clone(),
            bad: bad.clone(),
            retry: retry.clone(),
            session: None,
        })
    }
}

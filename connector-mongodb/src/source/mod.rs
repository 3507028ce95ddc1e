//! [`crate::MongoSource`]: a bounded read of a collection split into `_id` ranges;
//! exactly-once (each split's position is the last `_id` it emitted).

mod fetcher;
mod split;
mod splitter;

pub use fetcher::IdRangeFetcher;
pub use split::{IdRangeSplit, IdValue};

use connector_base::schema::BadRecords;
use connector_base::split_reader::{FetcherConfig, FetcherReader};
use mongodb::bson::RawDocumentBuf;
use stream_core::Result;
use stream_core::api::{Boundedness, Source, TaskContext};
use stream_core::builtin::FixedSplitEnumerator;

use crate::config::MongoSource;
use crate::error::{MongoError, worth_reading_again};

impl<T: Send + 'static> Source for MongoSource<T> {
    type Output = T;
    type Split = IdRangeSplit;
    type EnumeratorState = Vec<IdRangeSplit>;
    type Enumerator = FixedSplitEnumerator<IdRangeSplit>;
    type Reader = FetcherReader<IdRangeFetcher<T>>;

    fn connector_name(&self) -> &'static str {
        "mongodb"
    }

    fn boundedness(&self) -> Boundedness {
        Boundedness::Bounded
    }

    async fn create_enumerator(
        &self,
        parallelism: usize,
        restored: Option<Vec<IdRangeSplit>>,
    ) -> Result<FixedSplitEnumerator<IdRangeSplit>> {
        if let Some(remaining) = restored {
            return Ok(FixedSplitEnumerator::new(remaining));
        }
        let client = self.connection.client().await?;
        let split = || splitter::splits(&client, &self.database, &self.collection, &self.strategy, parallelism);
        let reading_failed =
            |e: &MongoError| matches!(e, MongoError::Read { source, .. } if worth_reading_again(source));
        let splits = self.retry.retry("splitting the collection", split, reading_failed).await?;
        Ok(FixedSplitEnumerator::new(splits))
    }

    async fn create_reader(&self, _ctx: &TaskContext) -> Result<FetcherReader<IdRangeFetcher<T>>> {
        let client = self.connection.client().await?;
        let collection = client.database(&self.database).collection::<RawDocumentBuf>(&self.collection);
        let config = FetcherConfig { batch_size: self.page_size as usize, ..FetcherConfig::default() };
        let (name, filter, projection) =
            (format!("{}.{}", self.database, self.collection), self.filter.clone(), self.projection.clone());
        let (page_size, no_cursor_timeout, decode) = (self.page_size, self.no_cursor_timeout, self.decode.clone());
        let bad = BadRecords::new(self.bad_records.clone());
        let retry = self.retry.clone();
        FetcherReader::new(config, move || IdRangeFetcher {
            collection: collection.clone(),
            name: name.clone(),
            filter: filter.clone(),
            projection: projection.clone(),
            page_size,
            no_cursor_timeout,
            decode: decode.clone(),
            bad: bad.clone(),
            retry: retry.clone(),
            open: None,
        })
    }
}

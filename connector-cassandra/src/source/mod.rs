//! [`crate::CassandraSource`]: a bounded read of a table, split by token range;
//! exactly-once (each split's position is the paging state of its next page).

mod fetcher;
pub(crate) mod query;
mod split;

pub use fetcher::TokenRangeFetcher;
pub use split::TokenRangeSplit;

use std::marker::PhantomData;

use connector_base::split_reader::{FetcherConfig, FetcherReader};
use scylla::deserialize::row::DeserializeRow;
use stream_core::Result;
use stream_core::api::{Boundedness, Source, TaskContext};
use stream_core::builtin::FixedSplitEnumerator;

use crate::config::CassandraSource;
use crate::error::CassandraError;
use query::token_ranges;

impl<T> Source for CassandraSource<T>
where
    T: for<'frame, 'metadata> DeserializeRow<'frame, 'metadata> + Send + 'static,
{
    type Output = T;
    type Split = TokenRangeSplit;
    type EnumeratorState = Vec<TokenRangeSplit>;
    type Enumerator = FixedSplitEnumerator<TokenRangeSplit>;
    type Reader = FetcherReader<TokenRangeFetcher<T>>;

    fn connector_name(&self) -> &'static str {
        "cassandra"
    }

    fn boundedness(&self) -> Boundedness {
        Boundedness::Bounded
    }

    async fn create_enumerator(
        &self,
        parallelism: usize,
        restored: Option<Vec<TokenRangeSplit>>,
    ) -> Result<FixedSplitEnumerator<TokenRangeSplit>> {
        if let Some(remaining) = restored {
            return Ok(FixedSplitEnumerator::new(remaining));
        }
        let count = self.splits.unwrap_or(4 * parallelism.max(1));
        let splits = match count {
            1 => vec![TokenRangeSplit::new(None)],
            n => token_ranges(n).into_iter().map(|range| TokenRangeSplit::new(Some(range))).collect(),
        };
        tracing::info!(query = %self.query.whole(), splits = splits.len(), "cassandra source splits");
        Ok(FixedSplitEnumerator::new(splits))
    }

    async fn create_reader(&self, ctx: &TaskContext) -> Result<FetcherReader<TokenRangeFetcher<T>>> {
        let session = self.connection.session().await?;
        let query = match self.splits {
            Some(1) => self.query.whole().to_string(),
            _ => {
                let key = self.partition_key(&session)?;
                self.query.ranged(&key)
            }
        };
        let mut prepared = session
            .prepare(query.as_str())
            .await
            .map_err(|source| CassandraError::Prepare { statement: query.clone(), source })?;
        prepared.set_consistency(self.consistency);
        prepared.set_page_size(self.page_size);
        prepared.set_request_timeout(Some(self.request_timeout));
        prepared.set_is_idempotent(true);
        tracing::debug!(%query, subtask = ctx.subtask, "cassandra source reader ready");
        let config = FetcherConfig { batch_size: self.page_size as usize, ..FetcherConfig::default() };
        let (query, retry_timeout) = (std::sync::Arc::<str>::from(query), self.retry_timeout);
        FetcherReader::new(config, move || TokenRangeFetcher {
            session: session.clone(),
            prepared: prepared.clone(),
            query: query.clone(),
            retry_timeout,
            _record: PhantomData,
        })
    }
}

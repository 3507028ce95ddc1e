//! Reads a split one page at a time (`page_size` rows); the page's paging state is
//! the split's position, so a restore goes on with the page after the last one
//! emitted. A page read that fails in a way that may pass is sent again within
//! `retry_timeout`.

use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use connector_base::split_reader::{Fetch, SplitFetcher};
use scylla::client::session::Session;
use scylla::deserialize::row::DeserializeRow;
use scylla::response::{PagingState, PagingStateResponse};
use scylla::statement::prepared::PreparedStatement;
use stream_core::Result;

use super::split::TokenRangeSplit;
use crate::error::CassandraError;
use crate::retry::{GaveUp, retry_within};

/// The page reader of one fetcher task.
pub struct TokenRangeFetcher<T> {
    pub(crate) session: Arc<Session>,
    /// The query with a token range, or the whole query for a single split.
    pub(crate) prepared: PreparedStatement,
    pub(crate) query: Arc<str>,
    pub(crate) retry_timeout: Duration,
    pub(crate) _record: PhantomData<fn() -> T>,
}

impl<T> TokenRangeFetcher<T> {
    fn read_failed(&self, reason: impl std::fmt::Display) -> stream_core::StreamError {
        CassandraError::Read(format!("rows of `{}`: {reason}", self.query)).into()
    }
}

impl<T> SplitFetcher for TokenRangeFetcher<T>
where
    T: for<'frame, 'metadata> DeserializeRow<'frame, 'metadata> + Send + 'static,
{
    type Split = TokenRangeSplit;
    type Record = T;

    async fn fetch(&mut self, split: &mut TokenRangeSplit, _max: usize) -> Result<Fetch<T>> {
        if split.done {
            return Ok(Fetch::Finished);
        }
        let position = match &split.paging_state {
            Some(bytes) => PagingState::new_from_raw_bytes(bytes.as_slice()),
            None => PagingState::start(),
        };
        let bounds: Vec<i64> = split.range.map(|(start, end)| vec![start, end]).unwrap_or_default();
        let (session, prepared) = (&self.session, &self.prepared);
        let read = || session.execute_single_page(prepared, &bounds, position.clone());
        let (page, next) = match retry_within(&self.query, true, self.retry_timeout, read).await {
            Ok(page) => page,
            Err(GaveUp::Failed(source)) => {
                return Err(CassandraError::Query { query: self.query.to_string(), source }.into());
            }
            Err(GaveUp::Exhausted(source)) => {
                let (statement, timeout) = (self.query.to_string(), self.retry_timeout);
                return Err(CassandraError::RetriesExhausted { statement, timeout, source }.into());
            }
        };
        let rows = page.into_rows_result().map_err(|e| self.read_failed(e))?;
        let records: Vec<T> = rows
            .rows::<T>()
            .map_err(|e| self.read_failed(e))?
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| self.read_failed(e))?;
        match next {
            PagingStateResponse::HasMorePages { state } => {
                split.paging_state = state.as_bytes_slice().map(|bytes| bytes.to_vec());
                // A page state the server did not give cannot be resumed: read on
                // from the start would repeat rows, so it counts as the end.
                split.done = split.paging_state.is_none();
            }
            PagingStateResponse::NoMorePages => split.done = true,
        }
        split.rows_read += records.len() as u64;
        metrics::counter!("cassandra_source_rows_read_total").increment(records.len() as u64);
        Ok(if records.is_empty() && split.done { Fetch::Finished } else { Fetch::Records(records) })
    }
}

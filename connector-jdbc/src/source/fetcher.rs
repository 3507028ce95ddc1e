//! Reads a split a page at a time, each page a query of its own after the split's
//! position (the key of the last row emitted), so a restore or a lost session goes on
//! right after it; Flink counts rows and skips them.

use connector_base::schema::BadRecords;
use connector_base::split_reader::{Fetch, SplitFetcher};
use stream_core::Result;
use stream_core::retry::RetryPolicy;
use tokio_postgres::{Client, Row};

use super::query::KeyedQuery;
use super::split::KeyRangeSplit;
use crate::config::DecodeRow;
use crate::connection::PgConnection;
use crate::error::{JdbcError, failed, transient};

/// The reader of one fetcher task.
pub struct KeysetFetcher<T> {
    pub(crate) connection: PgConnection,
    pub(crate) query: String,
    pub(crate) key_column: String,
    pub(crate) page_size: u32,
    pub(crate) decode: DecodeRow<T>,
    pub(crate) bad: BadRecords,
    pub(crate) retry: RetryPolicy,
    /// The session and what it found of the query, kept between pages.
    pub(crate) session: Option<(Client, KeyedQuery)>,
}

impl<T> KeysetFetcher<T> {
    /// The next page of `split` on the open session, or a new one.
    async fn next_page(&mut self, split: &KeyRangeSplit) -> std::result::Result<(Vec<Row>, KeyedQuery), JdbcError> {
        if self.session.as_ref().is_none_or(|(client, _)| client.is_closed()) {
            let client = self.connection.connect().await?;
            let keyed = KeyedQuery::describe(&client, &self.query, &self.key_column).await?;
            self.session = Some((client, keyed));
        }
        let Some((client, keyed)) = &self.session else { return Err(JdbcError::Invalid("no source session".into())) };
        let (sql, params) = keyed.page(split, self.page_size);
        let rows = client.query(&sql, &params).await.map_err(failed(format!("reading a page of `{}`", self.query)))?;
        Ok((rows, keyed.clone()))
    }
}

impl<T: Send + 'static> SplitFetcher for KeysetFetcher<T> {
    type Split = KeyRangeSplit;
    type Record = T;

    async fn fetch(&mut self, split: &mut KeyRangeSplit, _max: usize) -> Result<Fetch<T>> {
        if split.done {
            return Ok(Fetch::Finished);
        }
        let mut backoff = self.retry.backoff();
        let connection = self.connection.clone();
        let (rows, keyed) = loop {
            let error = match connection.within("reading a page", self.next_page(split)).await {
                Ok(page) => break page,
                Err(error) => error,
            };
            self.session = None;
            let delay = if transient(&error) { backoff.next_delay() } else { None };
            let Some(delay) = delay else { return Err(error.into()) };
            tracing::warn!(query = %self.query, split = split.index, ?delay, %error,
                "reading a page failed; reading it again on a new session, after the split's position");
            tokio::time::sleep(delay).await;
        };
        split.done = rows.len() < self.page_size as usize;
        let Some(last) = rows.last() else { return Ok(Fetch::Finished) };
        let last = keyed.key_of(last).map_err(failed(format!("reading the key {} of `{}`", keyed.key, self.query)))?;
        split.last = Some(last);
        metrics::counter!("jdbc_source_rows_read_total").increment(rows.len() as u64);
        let mut records = Vec::with_capacity(rows.len());
        for row in &rows {
            let key = keyed.key_of(row).map(|k| k.to_string()).unwrap_or_default();
            let origin = format_args!("`{}` row {} {key}", self.query, keyed.key);
            if let Some(record) = self.bad.settle((self.decode)(row), key.as_bytes(), origin)? {
                records.push(record);
            }
        }
        Ok(Fetch::Records(records))
    }
}

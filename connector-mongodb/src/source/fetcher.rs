//! Reads a split through one cursor: `_id` after the last one read (or from the
//! range's start), before the range's end, in `_id` order, `page_size` documents a
//! batch. After each page the last `_id` is the split's position, so a restore (or a
//! cursor lost to a network fault) opens a new cursor right after it; Flink counts an
//! offset and skips it.

use connector_base::key_range::PageStart;
use connector_base::schema::BadRecords;
use connector_base::split_reader::{Fetch, SplitFetcher};
use futures::TryStreamExt;
use mongodb::bson::{Bson, Document, RawDocument, RawDocumentBuf, doc};
use mongodb::{Collection, Cursor};
use stream_core::Result;
use stream_core::retry::RetryPolicy;

use super::split::{IdRangeSplit, IdValue};
use crate::config::Decode;
use crate::error::{MongoError, worth_reading_again};

/// The reader of one fetcher task.
pub struct IdRangeFetcher<T> {
    pub(crate) collection: Collection<RawDocumentBuf>,
    pub(crate) name: String,
    pub(crate) filter: Document,
    pub(crate) projection: Option<Document>,
    pub(crate) page_size: u32,
    pub(crate) no_cursor_timeout: bool,
    pub(crate) decode: Decode<T>,
    pub(crate) bad: BadRecords,
    pub(crate) retry: RetryPolicy,
    /// The cursor of the split being read (its index), kept between pages.
    pub(crate) open: Option<(u32, Cursor<RawDocumentBuf>)>,
}

/// Shows a document's `_id` (only when a record is bad).
struct IdOf<'a>(&'a RawDocument);

impl std::fmt::Display for IdOf<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0.get("_id").ok().flatten().map(Bson::try_from) {
            Some(Ok(id)) => write!(f, "{id}"),
            _ => f.write_str("(unreadable)"),
        }
    }
}

/// One page: its documents, and whether the cursor ended after them.
struct Page {
    documents: Vec<RawDocumentBuf>,
    ended: bool,
}

impl<T> IdRangeFetcher<T> {
    /// The filter of the rest of `split`.
    fn rest_filter(&self, split: &IdRangeSplit) -> Document {
        let mut range = Document::new();
        match split.page_start() {
            Some(PageStart::After(IdValue(last))) => range.insert("$gt", last.clone()),
            Some(PageStart::At(IdValue(lower))) => range.insert("$gte", lower.clone()),
            None => None,
        };
        if let Some(IdValue(upper)) = &split.upper {
            range.insert("$lt", upper.clone());
        }
        let range = if range.is_empty() {
            Document::new()
        } else {
            doc! { "_id": range }
        };
        match (self.filter.is_empty(), range.is_empty()) {
            (true, _) => range,
            (false, true) => self.filter.clone(),
            (false, false) => doc! { "$and": [self.filter.clone(), range] },
        }
    }

    /// The next page of `split`, from its open cursor or a new one. A failure drops
    /// the cursor: what it had read is not counted, and the next cursor starts
    /// after `split.last`.
    async fn next_page(&mut self, split: &IdRangeSplit) -> mongodb::error::Result<Page> {
        let mut cursor = match self.open.take() {
            Some((index, cursor)) if index == split.index => cursor,
            _ => {
                let mut find = self
                    .collection
                    .find(self.rest_filter(split))
                    .sort(doc! { "_id": 1 })
                    .batch_size(self.page_size)
                    .no_cursor_timeout(self.no_cursor_timeout);
                if let Some(projection) = &self.projection {
                    find = find.projection(projection.clone());
                }
                find.await?
            }
        };
        let mut documents = Vec::with_capacity(self.page_size as usize);
        while documents.len() < self.page_size as usize {
            match cursor.try_next().await? {
                Some(document) => documents.push(document),
                None => return Ok(Page { documents, ended: true }),
            }
        }
        self.open = Some((split.index, cursor));
        Ok(Page { documents, ended: false })
    }
}

impl<T: Send + 'static> SplitFetcher for IdRangeFetcher<T> {
    type Split = IdRangeSplit;
    type Record = T;

    async fn fetch(&mut self, split: &mut IdRangeSplit, _max: usize) -> Result<Fetch<T>> {
        if split.done {
            return Ok(Fetch::Finished);
        }
        let mut backoff = self.retry.backoff();
        let page = loop {
            let error = match self.next_page(split).await {
                Ok(page) => break page,
                Err(error) => error,
            };
            let delay = if worth_reading_again(&error) { backoff.next_delay() } else { None };
            let Some(delay) = delay else {
                return Err(MongoError::Read { collection: self.name.clone(), source: error }.into());
            };
            tracing::warn!(collection = %self.name, split = split.index, ?delay, %error,
                "reading a split failed; opening its cursor again after its position");
            tokio::time::sleep(delay).await;
        };
        split.done = page.ended;
        let last = page.documents.last().and_then(|d| d.get("_id").ok().flatten()).map(Bson::try_from);
        let last = match last {
            Some(Ok(last)) => last,
            Some(Err(e)) => {
                let reason = format!("a document's _id does not decode: {e}");
                return Err(MongoError::Source { collection: self.name.clone(), reason }.into());
            }
            None => return Ok(Fetch::Finished),
        };
        split.last = Some(IdValue(last));
        metrics::counter!("mongodb_source_documents_read_total", "collection" => self.name.clone())
            .increment(page.documents.len() as u64);
        let mut records = Vec::with_capacity(page.documents.len());
        for document in &page.documents {
            let origin = format_args!("{} _id {}", self.name, IdOf(document));
            if let Some(record) = self.bad.settle((self.decode)(document), document.as_bytes(), origin)? {
                records.push(record);
            }
        }
        Ok(Fetch::Records(records))
    }
}

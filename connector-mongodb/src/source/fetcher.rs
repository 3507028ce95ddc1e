//! Reads a split one page at a time: `_id` after the last one read (or from the
//! range's start), before the range's end, in `_id` order, `page_size` documents in
//! one batch. The page's last `_id` is the split's position, so a restore resumes
//! right after it (Flink counts an offset and skips it).

use std::sync::Arc;

use connector_base::schema::BadRecords;
use connector_base::split_reader::{Fetch, SplitFetcher};
use futures::TryStreamExt;
use mongodb::Collection;
use mongodb::bson::{Document, doc};
use stream_core::{Result, StreamError};

use super::split::{IdRangeSplit, IdValue};
use crate::error::MongoError;

/// Turns a document into a record; `Err` says why it cannot.
pub(crate) type Decode<T> = Arc<dyn Fn(Document) -> std::result::Result<T, String> + Send + Sync>;

/// The page reader of one fetcher task.
pub struct IdRangeFetcher<T> {
    pub(crate) collection: Collection<Document>,
    pub(crate) name: String,
    pub(crate) filter: Document,
    pub(crate) projection: Option<Document>,
    pub(crate) page_size: u32,
    pub(crate) no_cursor_timeout: bool,
    pub(crate) decode: Decode<T>,
    pub(crate) bad: BadRecords,
}

impl<T> IdRangeFetcher<T> {
    /// The filter of the next page of `split`.
    fn page_filter(&self, split: &IdRangeSplit) -> Document {
        let mut range = Document::new();
        match (&split.last, &split.lower) {
            (Some(IdValue(last)), _) => range.insert("$gt", last.clone()),
            (None, Some(IdValue(lower))) => range.insert("$gte", lower.clone()),
            (None, None) => None,
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
}

impl<T: Send + 'static> SplitFetcher for IdRangeFetcher<T> {
    type Split = IdRangeSplit;
    type Record = T;

    async fn fetch(&mut self, split: &mut IdRangeSplit, _max: usize) -> Result<Fetch<T>> {
        if split.done {
            return Ok(Fetch::Finished);
        }
        let page = i64::from(self.page_size);
        let mut find = self
            .collection
            .find(self.page_filter(split))
            .sort(doc! { "_id": 1 })
            .limit(page)
            .batch_size(self.page_size)
            .no_cursor_timeout(self.no_cursor_timeout);
        if let Some(projection) = &self.projection {
            find = find.projection(projection.clone());
        }
        let failed = |e: mongodb::error::Error| -> StreamError {
            MongoError::Read { collection: self.name.clone(), source: e }.into()
        };
        let documents: Vec<Document> = find.await.map_err(failed)?.try_collect().await.map_err(failed)?;
        if (documents.len() as i64) < page {
            split.done = true;
        }
        let Some(last) = documents.last().and_then(|d| d.get("_id")).cloned() else {
            return Ok(Fetch::Finished);
        };
        split.last = Some(IdValue(last));
        metrics::counter!("mongodb_source_documents_read_total", "collection" => self.name.clone())
            .increment(documents.len() as u64);
        let mut records = Vec::with_capacity(documents.len());
        for document in documents {
            let origin =
                format!("{} _id {}", self.name, document.get("_id").map(ToString::to_string).unwrap_or_default());
            let bytes = document.to_string().into_bytes();
            if let Some(record) = self.bad.settle((self.decode)(document), &bytes, origin)? {
                records.push(record);
            }
        }
        Ok(Fetch::Records(records))
    }
}

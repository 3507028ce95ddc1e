//! The sink's builder and the validation of its options.

use std::sync::Arc;
use std::time::Duration;

use connector_base::DeliveryGuarantee;
use connector_base::async_sink::{AsyncSink, AsyncSinkOptions, ServiceLimits};
use connector_base::schema::BadRecordPolicy;
use stream_core::retry::RetryPolicy;
use stream_core::{Result, StreamError};

use crate::connection::MongoConnection;
use crate::error::MongoError;
use crate::model::MongoWrite;

/// A server's limits: a document is at most 16 MiB; a batch is cut at Flink's 1 000
/// documents (the server takes up to 100 000, the driver splits by message size).
const WRITES: ServiceLimits = ServiceLimits {
    api: "MongoDB writes",
    max_batch_size: 1_000,
    max_batch_size_in_bytes: 48 * 1024 * 1024,
    max_record_size_in_bytes: 16 * 1024 * 1024,
};

pub(crate) type Convert<T> = Arc<dyn Fn(T) -> std::result::Result<MongoWrite, MongoError> + Send + Sync>;

/// Writes records to one MongoDB collection (connector-base's batching, retrying
/// [`AsyncSink`]). Build with [`MongoSinkBuilder::new`].
pub type MongoSink<T> = AsyncSink<T, MongoCollection<T>>;

/// The collection a [`MongoSink`] writes to and how records become writes.
pub struct MongoCollection<T> {
    pub(crate) connection: MongoConnection,
    pub(crate) database: String,
    pub(crate) collection: String,
    pub(crate) convert: Convert<T>,
    pub(crate) guarantee: DeliveryGuarantee,
    pub(crate) ordered: bool,
    pub(crate) failed_writes: BadRecordPolicy,
}

impl<T> std::fmt::Debug for MongoCollection<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MongoSink")
            .field("connection", &self.connection)
            .field("collection", &format!("{}.{}", self.database, self.collection))
            .field("guarantee", &self.guarantee)
            .field("ordered", &self.ordered)
            .finish_non_exhaustive()
    }
}

/// Builder of [`MongoSink`].
pub struct MongoSinkBuilder<T> {
    connection: MongoConnection,
    database: String,
    collection: String,
    convert: Convert<T>,
    guarantee: DeliveryGuarantee,
    ordered: bool,
    failed_writes: BadRecordPolicy,
    options: AsyncSinkOptions,
}

impl<T: Send + 'static> MongoSinkBuilder<T> {
    /// Write to `database.collection` through `connection`; `convert` makes each
    /// record a write (`|r| MongoWrite::replace_by_id_serde(&r)` for an upsert of a
    /// serde struct by its `_id`).
    pub fn new(
        connection: MongoConnection,
        database: impl Into<String>,
        collection: impl Into<String>,
        convert: impl Fn(T) -> std::result::Result<MongoWrite, MongoError> + Send + Sync + 'static,
    ) -> Self {
        let mut options = AsyncSinkOptions::new(WRITES);
        // Flink's defaults: 1 000 documents or 1 s.
        options.max_time_in_buffer = std::time::Duration::from_secs(1);
        MongoSinkBuilder {
            connection,
            database: database.into(),
            collection: collection.into(),
            convert: Arc::new(convert),
            guarantee: DeliveryGuarantee::AtLeastOnce,
            ordered: true,
            failed_writes: BadRecordPolicy::Fail,
            options,
        }
    }

    /// `AtLeastOnce` (default) or `ExactlyOnce`, for writes a replay cannot change:
    /// upserts and replaces by key with values from the record, deletes, and inserts
    /// with an `_id` from the record (a duplicate `_id` then counts as written). A
    /// write that is not (an insert without `_id`, `$inc`, `$push`, ...) fails the job
    /// naming why. Exactly-once keeps one request in flight to keep the order.
    pub fn delivery_guarantee(mut self, guarantee: DeliveryGuarantee) -> Self {
        self.guarantee = guarantee;
        self
    }

    /// Keep the order of writes to the same document (default on): writes with the
    /// same filter or `_id` are sent one after the other, and a batch's inserts and
    /// other writes in the order they came. Off: every insert of a batch in one
    /// unordered `insert_many` and the other writes all at once.
    pub fn ordered(mut self, ordered: bool) -> Self {
        self.ordered = ordered;
        self
    }

    /// What to do with a document the server refuses for good (a duplicate key on a
    /// unique index, a validation failure): fail the job naming the collection, `_id`
    /// and code (default), skip and count it (`mongodb_sink_writes_failed_total`), or
    /// hand it (extended JSON) with the reason to a function.
    pub fn failed_writes(mut self, policy: BadRecordPolicy) -> Self {
        self.failed_writes = policy;
        self
    }

    connector_base::async_sink_options!(options, "default 4; exactly-once needs 1");

    /// Validate and build; the error names the bad option and value.
    pub fn build(self) -> Result<MongoSink<T>> {
        self.connection.validate()?;
        check_names(&self.database, &self.collection)?;
        if !matches!(self.guarantee, DeliveryGuarantee::AtLeastOnce | DeliveryGuarantee::ExactlyOnce) {
            return Err(StreamError::invalid(
                "delivery_guarantee",
                self.guarantee,
                "the MongoDB sink offers at-least-once, or exactly-once for idempotent writes",
            ));
        }
        let async_config = self.options.build(self.guarantee, 4)?;
        let target = MongoCollection {
            connection: self.connection,
            database: self.database,
            collection: self.collection,
            convert: self.convert,
            guarantee: self.guarantee,
            ordered: self.ordered,
            failed_writes: self.failed_writes,
        };
        Ok(AsyncSink::new(target, async_config))
    }
}

/// How a [`MongoSource`] cuts the collection into `_id` ranges (Flink's split
/// strategies).
#[derive(Debug, Clone, PartialEq)]
pub enum SplitStrategy {
    /// One split: the whole collection.
    Single,
    /// Boundaries from `$sample`: `splits` ranges (default 4 per subtask), every
    /// `samples_per_split`-th of the sorted sample.
    Sample {
        /// How many ranges (`None`: 4 per subtask).
        splits: Option<usize>,
        /// Sampled `_id`s per range (more: more even ranges).
        samples_per_split: usize,
    },
    /// The server's `splitVector` (needs the `splitVector` privilege on a real
    /// server); where it is refused or unknown, `Sample` instead, with a warning that
    /// says why.
    SplitVector {
        /// The largest range, in MiB.
        max_chunk_size_mb: u32,
    },
    /// A boundary every `documents_per_split` documents, walking the collection in
    /// `_id` order (one query per boundary).
    Pagination {
        /// Documents per range.
        documents_per_split: u64,
    },
}

/// Turns a document (its BSON) into a record; `Err` says why it cannot.
pub(crate) type Decode<T> = Arc<dyn Fn(&mongodb::bson::RawDocument) -> std::result::Result<T, String> + Send + Sync>;

/// Reads one collection once (bounded), split into `_id` ranges over the subtasks;
/// each split reads through one cursor in `_id` order and keeps the last `_id` it
/// emitted in the checkpoint, so a restore (or a cursor lost to the network) neither
/// re-reads nor skips. Exactly-once. Build with
/// [`MongoSourceBuilder::new`].
pub struct MongoSource<T> {
    pub(crate) connection: MongoConnection,
    pub(crate) database: String,
    pub(crate) collection: String,
    pub(crate) strategy: SplitStrategy,
    pub(crate) filter: mongodb::bson::Document,
    pub(crate) projection: Option<mongodb::bson::Document>,
    pub(crate) page_size: u32,
    pub(crate) no_cursor_timeout: bool,
    pub(crate) decode: Decode<T>,
    pub(crate) bad_records: BadRecordPolicy,
    pub(crate) retry: RetryPolicy,
}

impl<T> std::fmt::Debug for MongoSource<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MongoSource")
            .field("connection", &self.connection)
            .field("collection", &format!("{}.{}", self.database, self.collection))
            .field("strategy", &self.strategy)
            .field("page_size", &self.page_size)
            .finish_non_exhaustive()
    }
}

/// Builder of [`MongoSource`].
pub struct MongoSourceBuilder<T> {
    source: MongoSource<T>,
}

impl<T: serde::de::DeserializeOwned + Send + 'static> MongoSourceBuilder<T> {
    /// Read `database.collection` through `connection`, each document decoded into
    /// `T` through serde (`mongodb::bson::Document` for the documents as they are).
    pub fn new(connection: MongoConnection, database: impl Into<String>, collection: impl Into<String>) -> Self {
        let decode: Decode<T> =
            Arc::new(|document| mongodb::bson::from_slice(document.as_bytes()).map_err(|e| e.to_string()));
        MongoSourceBuilder {
            source: MongoSource {
                connection,
                database: database.into(),
                collection: collection.into(),
                strategy: SplitStrategy::Sample { splits: None, samples_per_split: 10 },
                filter: mongodb::bson::Document::new(),
                projection: None,
                page_size: 1_000,
                no_cursor_timeout: false,
                decode,
                bad_records: BadRecordPolicy::Fail,
                retry: RetryPolicy::exponential(Duration::from_millis(100), Duration::from_secs(2))
                    .give_up_after(Duration::from_secs(60)),
            },
        }
    }
}

impl<T: Send + 'static> MongoSourceBuilder<T> {
    /// How to split (default `Sample`, 4 ranges per subtask).
    pub fn split_strategy(mut self, strategy: SplitStrategy) -> Self {
        self.source.strategy = strategy;
        self
    }

    /// Read only documents matching `filter`.
    pub fn filter(mut self, filter: mongodb::bson::Document) -> Self {
        self.source.filter = filter;
        self
    }

    /// Read only these fields (`_id` is always read: it is the position).
    pub fn projection(mut self, projection: mongodb::bson::Document) -> Self {
        self.source.projection = Some(projection);
        self
    }

    /// Documents per page (default 1 000): the batch size of a split's cursor, and
    /// the position is kept per page.
    pub fn page_size(mut self, documents: u32) -> Self {
        self.source.page_size = documents;
        self
    }

    /// Ask the server not to time out idle cursors (default off: a split's cursor
    /// that timed out while the job was slow is opened again after the position).
    pub fn no_cursor_timeout(mut self, on: bool) -> Self {
        self.source.no_cursor_timeout = on;
        self
    }

    /// What to do with a document that does not decode: fail (default), skip and
    /// count, or a side output.
    pub fn bad_records(mut self, policy: BadRecordPolicy) -> Self {
        self.source.bad_records = policy;
        self
    }

    /// How a split's read is tried again after a network error, a lost cursor or a
    /// transient server error, each time with a new cursor after the split's
    /// position (default: from 100 ms doubling to 2 s, for up to 60 s; then the job
    /// fails and its restart strategy decides).
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.source.retry = policy;
        self
    }

    /// Validate and build; the error names the bad option and value.
    pub fn build(self) -> Result<MongoSource<T>> {
        let source = self.source;
        source.connection.validate()?;
        source.retry.validate("retry")?;
        check_names(&source.database, &source.collection)?;
        if source.page_size == 0 {
            return Err(StreamError::invalid("page_size", 0, "at least 1"));
        }
        if let Some(projection) = &source.projection
            && matches!(projection.get("_id"), Some(v) if v.as_i32() == Some(0) || v.as_bool() == Some(false) || v.as_i64() == Some(0))
        {
            return Err(StreamError::invalid("projection", projection, "keep _id: it is each split's position"));
        }
        let bad_strategy = match &source.strategy {
            SplitStrategy::Sample { splits: Some(0), .. } => Some("splits must be at least 1"),
            SplitStrategy::Sample { samples_per_split: 0, .. } => Some("samples_per_split must be at least 1"),
            SplitStrategy::SplitVector { max_chunk_size_mb: 0 } => Some("max_chunk_size_mb must be at least 1"),
            SplitStrategy::Pagination { documents_per_split: 0 } => Some("documents_per_split must be at least 1"),
            _ => None,
        };
        if let Some(reason) = bad_strategy {
            return Err(StreamError::invalid("split_strategy", format!("{:?}", source.strategy), reason));
        }
        Ok(source)
    }
}

/// A database and a collection name MongoDB accepts.
fn check_names(database: &str, collection: &str) -> Result<()> {
    if database.is_empty() || database.contains(['/', '\\', '.', ' ', '"', '$', '\0']) {
        return Err(StreamError::invalid("database", database, "a MongoDB name (not empty, no /\\. \"$ or NUL)"));
    }
    if collection.is_empty() || collection.contains(['$', '\0']) {
        return Err(StreamError::invalid("collection", collection, "a MongoDB name (not empty, no '$' or NUL)"));
    }
    Ok(())
}

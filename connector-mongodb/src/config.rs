//! The sink's builder and the validation of its options.

use std::sync::Arc;

use connector_base::DeliveryGuarantee;
use connector_base::async_sink::{AsyncSink, AsyncSinkOptions, ServiceLimits};
use connector_base::schema::BadRecordPolicy;
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
        for (option, name) in [("database", &self.database), ("collection", &self.collection)] {
            let bad = ['/', '\\', '.', ' ', '"', '$', '\0'];
            let forbidden = if option == "database" { &bad[..] } else { &bad[5..] };
            if name.is_empty() || name.contains(forbidden) {
                return Err(StreamError::invalid(option, name, "a MongoDB name (not empty, no '$' or NUL)"));
            }
        }
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

//! The sink: connector-base's batching, retrying [`AsyncSink`] with a MongoDB
//! collection as its target; buffered writes are part of the checkpoint.
//!
//! [`AsyncSink`]: connector_base::async_sink::AsyncSink

mod client;
mod outcome;

pub use client::MongoClient;

use connector_base::DeliveryGuarantee;
use connector_base::async_sink::AsyncSinkTarget;
use connector_base::schema::BadRecords;
use mongodb::bson::Document;
use stream_core::Result;
use stream_core::api::TaskContext;

use crate::config::MongoCollection;
use crate::error::MongoError;
use crate::model::MongoWrite;

impl<T: Send + 'static> AsyncSinkTarget<T> for MongoCollection<T> {
    type Client = MongoClient;

    async fn connect(&self, _ctx: &TaskContext) -> Result<MongoClient> {
        let client = self.connection.client().await?;
        let collection = client.database(&self.database).collection::<Document>(&self.collection);
        tracing::info!(collection = %format!("{}.{}", self.database, self.collection), guarantee = %self.guarantee,
            "mongodb writer ready");
        Ok(MongoClient {
            name: format!("{}.{}", self.database, self.collection),
            collection,
            ordered: self.ordered,
            bad: BadRecords::new(self.failed_writes.clone()),
            policy: self.failed_writes.clone(),
        })
    }

    fn connector_name(&self) -> &'static str {
        "mongodb"
    }

    fn convert(&self, record: T) -> Result<MongoWrite> {
        let write = (self.convert)(record)?;
        if self.guarantee == DeliveryGuarantee::ExactlyOnce
            && let Some(reason) = write.not_idempotent()
        {
            let message =
                format!("exactly-once to {}.{}: {reason} (or use at-least-once)", self.database, self.collection);
            return Err(MongoError::Encode(message).into());
        }
        Ok(write.with_id())
    }

    fn guarantee(&self) -> DeliveryGuarantee {
        self.guarantee
    }
}

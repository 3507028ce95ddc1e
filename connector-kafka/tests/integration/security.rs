//! Secured clusters, on the configuration path: the test broker speaks neither TLS nor
//! SASL, so what these tests prove is that the settings reach librdkafka, that this
//! build of librdkafka supports them, that a bad one fails `build()` naming it, that
//! passwords stay out of `Debug` output and errors, and that a broker refusing the
//! handshake fails the job fast, naming the cause. A TLS or SASL handshake itself is
//! not proven here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use connector_base::schema::Utf8Schema;
use connector_kafka::{KafkaSecurity, KafkaSink, KafkaSource, SaslMechanism, ValueOnly, ValueTo};
use stream_core::prelude::*;

use crate::common;

#[test]
fn passwords_stay_out_of_debug_output() {
    let security = KafkaSecurity::sasl_ssl(SaslMechanism::ScramSha512, "alice", "s3cret-password");
    let shown = format!("{security:?}");
    assert!(shown.contains("alice") && shown.contains("ScramSha512"), "{shown}");
    assert!(!shown.contains("s3cret-password"), "{shown}");
}

#[test]
fn a_bad_security_setting_fails_the_build_naming_it() {
    let error = KafkaSource::builder("127.0.0.1:9", ValueOnly(Utf8Schema))
        .topics(["t"])
        .property("security.protocol", "bogus")
        .build()
        .err()
        .unwrap()
        .to_string();
    assert!(error.contains("security.protocol=bogus"), "{error}");
    let error = KafkaSink::builder("127.0.0.1:9", ValueTo::new("t", Utf8Schema))
        .property("compression.type", "zip")
        .build()
        .err()
        .unwrap()
        .to_string();
    assert!(error.contains("compression.type=zip"), "{error}");
}

/// With the `ssl` feature librdkafka accepts TLS and SCRAM; without it the build
/// names the feature.
#[test]
fn tls_and_scram_settings_are_accepted_exactly_when_built_with_ssl() {
    let security = KafkaSecurity::sasl_ssl(SaslMechanism::ScramSha256, "alice", "s3cret-password")
        .ca_location("/etc/ssl/certs/ca-certificates.crt");
    let source =
        KafkaSource::builder("127.0.0.1:9", ValueOnly(Utf8Schema)).topics(["t"]).security(security.clone()).build();
    let sink = KafkaSink::builder("127.0.0.1:9", ValueTo::new("t", Utf8Schema)).security(security).build();
    if cfg!(feature = "ssl") {
        assert!(source.is_ok(), "{:?}", source.err());
        assert!(sink.is_ok(), "{:?}", sink.err());
    } else {
        let error = source.err().unwrap().to_string();
        assert!(error.contains("`ssl` feature") && !error.contains("s3cret"), "{error}");
        assert!(sink.is_err());
    }
}

/// A TLS client against the plaintext test broker: the handshake fails, and the job
/// fails once the reconnect timeout is out, naming the TLS failure (so TLS is really
/// attempted), without the password.
#[tokio::test(flavor = "multi_thread")]
async fn a_tls_client_against_a_plaintext_broker_fails_naming_the_handshake() {
    let Some((bootstrap, topic)) = common::topic("tls-refused", 1).await else { return };
    if !cfg!(feature = "ssl") {
        return;
    }
    let security = KafkaSecurity::sasl_ssl(SaslMechanism::Plain, "alice", "s3cret-password");
    let source = KafkaSource::builder(&bootstrap, ValueOnly(Utf8Schema))
        .topics([&topic])
        .security(security)
        .reconnect_timeout(Duration::from_secs(3))
        .build()
        .unwrap();
    let started = Instant::now();
    let job = StreamEnvironment::builder()
        .restart_strategy(RestartStrategy::None)
        .build()
        .unwrap()
        .from_source(source, "source")
        .sink_to(DiscardingSink::new(), "sink")
        .execute("tls-refused");
    let error = tokio::time::timeout(Duration::from_secs(60), job).await.expect("the job ends").err().unwrap();
    let message = format!("{error:#}");
    let chain: Vec<String> =
        std::iter::successors(Some(&error as &dyn std::error::Error), |e| e.source()).map(|e| e.to_string()).collect();
    eprintln!("{chain:?} after {:?}", started.elapsed());
    assert!(started.elapsed() < Duration::from_secs(30), "took {:?}: {message}", started.elapsed());
    let all = chain.join(" / ");
    // librdkafka's last report is "SSL handshake failed ..." or "SSL connection closed
    // by peer (... in state SSL_HANDSHAKE)", whichever it logged last.
    let lower = all.to_lowercase();
    assert!(lower.contains("ssl") && lower.contains("handshake"), "{all}");
    assert!(!all.contains("s3cret"), "{all}");
}

//! The sink on the Pub/Sub emulator beyond the guarantee suite: attributes and an
//! ordering key made from each record arrive with its payload.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::time::Duration;

use common::PROJECT;
use connector_base::schema::JsonSchema;
use connector_pubsub::{OutgoingMessage, PubSubEndpoint, PubSubSink};
use stream_core::prelude::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attributes_and_ordering_keys_come_from_the_record() {
    let Some(host) = common::emulator().await else { return };
    let (topic, subscription) = (common::fresh("attrs-out"), common::fresh("attrs-out-sub"));
    common::topic_and_subscription(&host, &topic, Some(&subscription), false).await;
    let sink = PubSubSink::builder(PROJECT, &topic, JsonSchema::<u64>::new())
        .endpoint(PubSubEndpoint::emulator(&host))
        .messages(|id: &u64| {
            let parity = if id.is_multiple_of(2) { "even" } else { "odd" };
            Ok(OutgoingMessage::new(id.to_string()).attribute("parity", parity).ordering_key(format!("key-{}", id % 3)))
        })
        .build()
        .unwrap();
    StreamEnvironment::builder()
        .parallelism(1)
        .build()
        .unwrap()
        .from_source(CollectionSource::new((0..30u64).collect::<Vec<_>>()), "ids")
        .sink_to(sink, "pubsub")
        .execute("attributes")
        .await
        .unwrap();
    let mut got: Vec<(u64, String, String)> = common::drain_messages(&host, &subscription, Duration::from_secs(2), 30)
        .await
        .into_iter()
        .map(|m| {
            let id = common::body(&m).parse().unwrap();
            (id, m.attributes.get("parity").cloned().unwrap_or_default(), m.ordering_key)
        })
        .collect();
    got.sort();
    let expected: Vec<(u64, String, String)> = (0..30u64)
        .map(|id| (id, if id.is_multiple_of(2) { "even" } else { "odd" }.to_string(), format!("key-{}", id % 3)))
        .collect();
    assert_eq!(got, expected);
}

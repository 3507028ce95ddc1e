//! The testkit's network-fault suite on the MongoDB sink (exactly-once inserts with
//! ids from the records) through a fault proxy in front of the test server: cuts with
//! short and long refusal, latency and short stalls lose nothing, duplicate nothing
//! and need no restart (the failed writes of a batch are sent again; an insert that
//! landed before its answer was lost comes back as a duplicate `_id`, counted as
//! written).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use common::{ToCollection, Writes};
use connector_base::DeliveryGuarantee;
use connector_testkit::NetworkSuite;
use connector_testkit::proxy::FaultProxy;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exactly_once_sink_rides_through_network_faults() {
    let Some(uri) = common::server().await else { return };
    let proxy = FaultProxy::for_endpoint(&uri).await.unwrap();
    let via = proxy.endpoint_for(&uri);
    // mongoeco writes a few hundred documents a second.
    let suite = NetworkSuite::new(&proxy, Duration::from_secs(30)).records_per_second(150.0);
    suite
        .run_sink(|| async {
            let mut target = ToCollection::new("net", DeliveryGuarantee::ExactlyOnce, Writes::Inserts)
                .await
                .map(Arc::unwrap_or_clone)
                .expect("the server");
            target.via = via.clone();
            Arc::new(target)
        })
        .await
        .unwrap();
    let stats = proxy.stats();
    assert!(stats.cut + stats.refused > 0, "the faults reached the connections: {stats:?}");
}
